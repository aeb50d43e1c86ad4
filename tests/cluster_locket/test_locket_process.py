"""The embedded Locket as a process: run file, logs, metrics, SIGTERM, dying with its parent,
loopback only, and what survives a SIGKILL (everything acknowledged, as Locket's SQL keeps it)."""

from __future__ import annotations

import random
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from locket_harness import log_lines, metric

from pytest_diego.locket import LocketClient, models
from pytest_diego.locket.errors import LockCollisionError, LocketClientError, ResourceNotFoundError
from tests.support.components import ENV, assert_dies_with_its_parent, command
from tests.support.waits import wait_until


def test_run_file_logs_metrics_and_sigterm(locket_process):
    proc = locket_process("--time-scale", "0.5")
    info = proc.info
    assert info["pid"] == proc.popen.pid
    assert info["address"].startswith("127.0.0.1:") and info["url"] == info["address"]
    assert info["tls"] is False
    assert requests.get(info["health_url"] + "/ping", timeout=5).status_code == 200
    with LocketClient(proc.address, timeout=5) as client:
        client.lock("bbs", "bbs-1")
    assert metric(info["metrics_url"], "ActiveLocks", source_id="locket") == 1
    assert proc.terminate() == 0
    assert not proc.run_file.exists()
    messages = [line["message"] for line in log_lines(proc.state_dir)]
    for expected in ("locket.burglar.started", "locket.grpc-server.started", "locket.started",
                     "locket.lock.lock.acquired-lock", "locket.grpc-server.signalled",
                     "locket.grpc-server.complete"):
        assert expected in messages
    assert all(line["source"] == "locket" for line in log_lines(proc.state_dir))


@pytest.mark.parametrize(("flag", "value"), [("--listen", "0.0.0.0:0"), ("--health-listen", "10.1.2.3:0"),
                                             ("--listen", "localhost-ish:1")])
def test_refuses_a_non_loopback_address(tmp_path, flag, value):
    result = subprocess.run(command("locket", tmp_path, flag, value), env=ENV, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(f"locket: {flag} {value!r}")
    assert "loopback" in result.stderr


def test_refuses_a_port_in_use(locket_process, tmp_path):
    first = locket_process()
    result = subprocess.run(command("locket", tmp_path / "second", "--listen", first.address), env=ENV,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"cannot listen on {first.address}" in result.stderr


def test_exits_when_its_parent_dies(tmp_path):
    assert_dies_with_its_parent("locket", tmp_path)


def _lock_until_killed(address: str, worker: int, acked: list[tuple[str, str]],
                       stop: threading.Event) -> None:
    with LocketClient(address, timeout=5) as client:
        n = 0
        while not stop.is_set():
            key, value = f"cell-{worker}-{n}", f'{{"cell_id":"cell-{worker}-{n}"}}'
            n += 1
            try:
                client.lock(key, f"rep-{worker}", value=value, type_code=models.PRESENCE, ttl_in_seconds=3600)
                if n % 5 == 0:
                    client.release(key, f"rep-{worker}")
                    acked.append((key, ""))  # acknowledged released
                else:
                    acked.append((key, value))
            except LocketClientError:
                return  # Locket is gone: this call was never acknowledged


def test_sigkill_loses_no_acknowledged_lock_release_or_value(locket_process):
    first = locket_process()
    with LocketClient(first.address, timeout=5) as client:
        client.lock("bbs", "bbs-uuid", ttl_in_seconds=3600)
        client.lock("cell-v", "rep-v", value="v1", type_code=models.PRESENCE, ttl_in_seconds=3600)
        client.lock("cell-v", "rep-v", value="v2", type_code=models.PRESENCE, ttl_in_seconds=3600)
    acked: list[tuple[str, str]] = []
    stop = threading.Event()
    with ThreadPoolExecutor(4) as pool:
        for worker in range(4):
            pool.submit(_lock_until_killed, first.address, worker, acked, stop)
        wait_until(lambda: len(acked) >= 200, 60, "200 acknowledged calls")
        time.sleep(random.uniform(0, 0.3))  # then at a random moment, mid-burst
        first.kill()
        stop.set()
    second = locket_process(state_dir=first.state_dir)
    with LocketClient(second.address, timeout=5) as client:
        held = {r.key: r for r in client.fetch_all(models.PRESENCE)}
        assert client.fetch("bbs").owner == "bbs-uuid"
        with pytest.raises(LockCollisionError):
            client.lock("bbs", "another-bbs")  # still held by its owner across the restart
    assert held.pop("cell-v").value == "v2"
    lost = [key for key, value in acked if value and (key not in held or held[key].value != value)]
    resurrected = [key for key, value in acked if not value and key in held]
    assert lost == [], f"{len(lost)} of {len(acked)} acknowledged locks lost: {lost[:5]}"
    assert resurrected == [], f"acknowledged releases undone: {resurrected[:5]}"


def test_a_restart_gives_stored_locks_a_full_ttl_then_expires_them(locket_process):
    scale = ("--time-scale", "0.1")  # a 10 s TTL lasts 1 s
    first = locket_process(*scale)
    with LocketClient(first.address, timeout=5) as client:
        client.lock("cell-1", "rep", type_code=models.PRESENCE, ttl_in_seconds=10)
    first.kill()
    time.sleep(1.2)  # longer than the TTL while Locket is down: like Locket, the TTL starts again
    second = locket_process(*scale, state_dir=first.state_dir)
    with LocketClient(second.address, timeout=5) as client:
        assert client.fetch("cell-1").owner == "rep"

        def gone() -> bool:
            try:
                client.fetch("cell-1")
            except ResourceNotFoundError:
                return True
            return False

        wait_until(gone, 5, "the stored presence to expire after the restart")
    messages = [line["message"] for line in log_lines(second.state_dir)]
    assert "locket.burglar.register-ttl.lock-expired" in messages
