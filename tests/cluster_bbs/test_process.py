"""The BBS as a process: run file, logs, clean SIGTERM, dying with its parent, loopback only."""

from __future__ import annotations

import subprocess

import pytest
import requests
from bbs_harness import task_definition

from pytest_diego.bbs.client import BBSClient
from tests.support.components import ENV, assert_dies_with_its_parent, command
from tests.support.lager_logs import log_records


def test_run_file_logs_and_sigterm(bbs_process):
    proc = bbs_process("--time-scale", "0.5")
    assert proc.info["pid"] == proc.popen.pid
    assert proc.url.startswith("http://127.0.0.1:")
    assert requests.get(proc.info["metrics_url"], timeout=5).status_code == 200
    assert requests.get(proc.info["health_url"] + "/ping", timeout=5).status_code == 200
    with BBSClient(proc.url) as client:
        client.desire_task("t1", "d", task_definition())
    assert proc.terminate() == 0
    assert not proc.run_file.exists()
    lines = log_records(proc.state_dir / "logs" / "bbs.log")
    messages = [line["message"] for line in lines]
    for expected in ("bbs.request.serving", "bbs.request.done", "bbs.desire-task.starting",
                     "bbs.desire-task.finished", "bbs.stopped"):
        assert expected in messages
    desire = next(line for line in lines if line["message"] == "bbs.desire-task.starting")
    assert desire["data"]["task_guid"] == "t1"
    served = next(line for line in lines if line["message"] == "bbs.request.serving")
    assert served["data"]["request"].startswith("/v1/")


def test_refuses_non_loopback_listen(tmp_path):
    result = subprocess.run(command("bbs", tmp_path, "--listen", "0.0.0.0:0"), env=ENV, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert "--allow-non-loopback" in result.stderr


def test_exits_when_its_parent_dies(tmp_path):
    assert_dies_with_its_parent("bbs", tmp_path)


def test_an_unsupported_db_is_refused_with_the_fix(tmp_path):
    result = subprocess.run(command("bbs", tmp_path, "--db", "mysql://user:secret@127.0.0.1/bbs"), env=ENV,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "sqlite:///" in result.stderr and "postgresql://" in result.stderr
    assert "secret" not in result.stderr


def test_a_busy_port_is_a_clear_error(make_bbs):
    from pytest_diego.cluster.bbs import ConfigError

    first = make_bbs()
    port = first.url.rsplit(":", 1)[1]
    with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
        make_bbs(listen=f"127.0.0.1:{port}")
