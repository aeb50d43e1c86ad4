"""The BBS as a process: run file, logs, clean SIGTERM, dying with its parent, loopback only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psutil
import pytest
import requests
from bbs_harness import REPO, task_definition

from pytest_diego.bbs.client import BBSClient


def test_run_file_logs_and_sigterm(bbs_process):
    proc = bbs_process("--time-scale", "0.5")
    assert proc.info["pid"] == proc.proc.pid
    assert proc.url.startswith("http://127.0.0.1:")
    assert requests.get(proc.info["metrics_url"], timeout=5).status_code == 200
    assert requests.get(proc.info["health_url"] + "/ping", timeout=5).status_code == 200
    with BBSClient(proc.url) as client:
        client.desire_task("t1", "d", task_definition())
    assert proc.terminate() == 0
    assert not proc.run_file.exists()
    lines = [json.loads(line) for line in (proc.state_dir / "logs" / "bbs.log").read_text().splitlines()]
    messages = [line["message"] for line in lines]
    for expected in ("bbs.request.serving", "bbs.request.done", "bbs.desire-task.starting",
                     "bbs.desire-task.finished", "bbs.stopped"):
        assert expected in messages
    desire = next(line for line in lines if line["message"] == "bbs.desire-task.starting")
    assert desire["data"]["task_guid"] == "t1"
    served = next(line for line in lines if line["message"] == "bbs.request.serving")
    assert served["data"]["request"].startswith("/v1/")


def test_refuses_non_loopback_listen(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest_diego.cluster.bbs", "--state-dir", str(tmp_path),
         "--listen", "0.0.0.0:0"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert "--allow-non-loopback" in result.stderr


def test_exits_when_its_parent_dies(tmp_path):
    # a parent shell that starts the BBS in the background and is then killed
    run_file = tmp_path / "run" / "bbs.json"
    parent = subprocess.Popen(
        ["/bin/sh", "-c", f'"{sys.executable}" -m pytest_diego.cluster.bbs --state-dir "{tmp_path}" & wait'],
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 30
        while not run_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = psutil.Process(json.loads(run_file.read_text())["pid"])
    finally:
        parent.kill()
        parent.wait()
    try:
        child.wait(timeout=10)
    except psutil.TimeoutExpired:
        child.kill()
        raise AssertionError("the BBS outlived its parent") from None


def test_an_unsupported_db_is_refused_with_the_fix(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest_diego.cluster.bbs", "--state-dir", str(tmp_path),
         "--db", "mysql://user:secret@127.0.0.1/bbs"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert "sqlite:///" in result.stderr and "postgresql://" in result.stderr
    assert "secret" not in result.stderr


def test_a_busy_port_is_a_clear_error(make_bbs):
    from pytest_diego.cluster.bbs import ConfigError

    first = make_bbs()
    port = first.url.rsplit(":", 1)[1]
    with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
        make_bbs(listen=f"127.0.0.1:{port}")
