"""The launcher's control socket: faults by name, delivered for other processes, with reasons."""

from __future__ import annotations

import json
import socket
import stat
import threading
import time
from pathlib import Path

import pytest

from pytest_diego.cluster import control


class RecordingCluster:
    """Stands in for ``EmbeddedCluster``: records each fault; cell-9 does not exist; a restart of
    the database takes until ``release`` is set."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.restarting = threading.Event()
        self.release = threading.Event()

    def restart_database(self) -> None:
        self.restarting.set()
        self.release.wait(10)
        self.calls.append(("restart_database",))

    def kill_cell(self, cell_id: str) -> bool:
        if cell_id == "cell-9":
            raise RuntimeError("no cell 'cell-9'; cells are cell-0..cell-2")
        self.calls.append(("kill_cell", cell_id))
        return cell_id != "cell-2"  # cell-2 had already stopped

    def restart_bbs(self) -> None:
        self.calls.append(("restart_bbs",))


@pytest.fixture
def server(tmp_path: Path):
    cluster = RecordingCluster()
    server = control.ControlServer(cluster, tmp_path)
    yield server, cluster
    server.close()


def test_faults_are_delivered_by_name_with_their_target(server):
    srv, cluster = server
    assert control.request(str(srv.path), "kill_cell", "cell-1") == ""
    assert control.request(str(srv.path), "restart_bbs", "bbs") == ""  # the nemesis names it; ignored
    assert control.request(str(srv.path), "kill_cell", "cell-2") == "was not running"
    assert cluster.calls == [("kill_cell", "cell-1"), ("restart_bbs",), ("kill_cell", "cell-2")]


def test_a_refused_fault_brings_back_its_reason_and_the_launcher_keeps_serving(server):
    srv, cluster = server
    with pytest.raises(control.ControlError, match=r"no cell 'cell-9'; cells are cell-0\.\.cell-2"):
        control.request(str(srv.path), "kill_cell", "cell-9")
    assert control.request(str(srv.path), "kill_cell", "cell-0") == ""
    assert cluster.calls == [("kill_cell", "cell-0")]


def test_a_malformed_request_is_answered_with_an_error_not_a_crash(server):
    srv, cluster = server
    replies = []
    for garbage in (b"not json\n", b'"a string"\n', b'{"fault": "format_disk"}\n'):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(srv.path))
            sock.sendall(garbage)
            replies.append(json.loads(sock.makefile().readline()))
    assert [r["ok"] for r in replies] == [False, False, False]
    assert replies[0]["error"].startswith("not a fault request")
    assert replies[1]["error"].startswith("not a fault request")
    assert replies[2]["error"].startswith("no fault 'format_disk'")
    assert control.request(str(srv.path), "restart_bbs") == ""
    assert cluster.calls == [("restart_bbs",)]


def test_a_client_that_sends_nothing_does_not_stop_the_faults_after_it(server, monkeypatch):
    monkeypatch.setattr(control, "REQUEST_TIMEOUT", 0.2)
    srv, cluster = server
    with socket.socket(socket.AF_UNIX) as silent:
        silent.connect(str(srv.path))
        assert control.request(str(srv.path), "restart_bbs", timeout=5) == ""
    assert cluster.calls == [("restart_bbs",)]


def send_then_hang_up(path: Path, kind: str) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(path))
        sock.sendall(json.dumps({"fault": kind}).encode() + b"\n")


def test_a_fault_whose_asker_gave_up_while_it_waited_its_turn_is_not_delivered(server):
    srv, cluster = server
    slow = threading.Thread(target=control.request, args=(str(srv.path), "restart_database"))
    slow.start()
    assert cluster.restarting.wait(5)
    send_then_hang_up(srv.path, "restart_bbs")  # queued behind the restart, then gone
    cluster.release.set()
    slow.join(10)
    assert control.request(str(srv.path), "kill_cell", "cell-0") == ""
    assert cluster.calls == [("restart_database",), ("kill_cell", "cell-0")]


def test_closing_waits_for_the_fault_under_way_and_delivers_no_other(tmp_path: Path):
    cluster = RecordingCluster()
    srv = control.ControlServer(cluster, tmp_path)
    slow = threading.Thread(target=control.request, args=(str(srv.path), "restart_database"))
    slow.start()
    assert cluster.restarting.wait(5)
    threading.Timer(0.3, cluster.release.set).start()
    started = time.monotonic()
    srv.close(timeout=10)
    assert time.monotonic() - started >= 0.25  # it waited for the restart to finish
    assert cluster.calls == [("restart_database",)]
    slow.join(10)
    with pytest.raises(control.ControlError, match="is its `cluster up` still running"):
        control.request(str(srv.path), "restart_bbs")


def test_a_socket_left_by_a_killed_launcher_is_removed_with_its_private_dir(tmp_path: Path):
    private = tmp_path / f"{control.PRIVATE_PREFIX}x"
    private.mkdir()
    (private / "control.sock").write_text("")
    control.remove_socket(str(private / "control.sock"))
    assert not private.exists()
    in_state_dir = tmp_path / "run" / "control.sock"
    in_state_dir.parent.mkdir()
    in_state_dir.write_text("")
    control.remove_socket(str(in_state_dir))
    assert not in_state_dir.exists() and in_state_dir.parent.exists()


@pytest.mark.parametrize(("kind", "target", "message"), [
    ("format_disk", "", "no fault 'format_disk'; faults: kill_cell, "),
    ("kill_cell", "", "kill_cell needs a cell id, e.g. kill_cell cell-0"),
    ("pause", "", "pause needs a component or cell id"),
])
def test_bad_requests_are_refused_before_they_are_sent(kind, target, message):
    with pytest.raises(ValueError, match=message):
        control.request("/nonexistent/control.sock", kind, target)


def test_the_socket_is_only_the_launchers_users_and_is_removed_on_close(tmp_path: Path):
    srv = control.ControlServer(RecordingCluster(), tmp_path)
    assert srv.path == tmp_path.resolve() / "run" / "control.sock"
    assert stat.S_IMODE(srv.path.stat().st_mode) == 0o600
    srv.close()
    assert not srv.path.exists()
    with pytest.raises(control.ControlError, match="is its `cluster up` still running"):
        control.request(str(srv.path), "restart_bbs")


def test_a_state_dir_too_deep_for_a_unix_socket_gets_a_private_one(tmp_path: Path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    srv = control.ControlServer(RecordingCluster(), deep)
    try:
        assert len(str(srv.path)) <= control.MAX_UNIX_SOCKET_PATH
        assert control.request(str(srv.path), "restart_bbs") == ""
    finally:
        srv.close()
    assert not srv.path.parent.exists()
