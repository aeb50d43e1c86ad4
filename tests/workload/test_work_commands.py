"""The commands a real Diego runs for the suites' work do what they promise, on a plain shell
with Perl and coreutils (what cflinuxfs4 has)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
import requests

from pytest_diego.workload.commands import CRASH_COMMAND, READY_APP_COMMAND
from tests.support.ports import free_port


@pytest.mark.skipif(shutil.which("perl") is None, reason="perl is not installed")
def test_the_ready_app_answers_with_its_instance_guid_on_port():
    port = free_port()
    env = {**os.environ, "PORT": str(port), "INSTANCE_GUID": "eb41e191-42d8-4791-4ce5-9f32"}
    app = subprocess.Popen(["/bin/sh", "-c", READY_APP_COMMAND], env=env)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                answers = [requests.get(f"http://127.0.0.1:{port}/", timeout=2) for _ in range(3)]
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the app never listened on $PORT"
                time.sleep(0.05)
        for answer in answers:  # it keeps serving, one connection after another
            assert answer.status_code == 200
            assert answer.headers["Content-Type"] == "application/json"
            assert json.loads(answer.content) == {"instance_guid": "eb41e191-42d8-4791-4ce5-9f32"}
    finally:
        app.kill()
        app.wait(timeout=10)


def test_the_crash_command_exits_between_min_and_max_seconds():
    env = {**os.environ, "MIN_SECONDS_TIL_CRASH": "1", "MAX_SECONDS_TIL_CRASH": "2"}
    started = time.monotonic()
    done = subprocess.run(["/bin/sh", "-c", CRASH_COMMAND], env=env, timeout=30)
    took = time.monotonic() - started
    assert done.returncode == 1  # a crash, as Diego sees it: the process exited
    assert 1.0 <= took < 3.5
