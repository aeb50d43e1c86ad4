"""``python -m pytest_diego cluster up|down|status`` as a user runs it, and no stray processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from launcher_helpers import cluster_processes, wait_until

from pytest_diego.cluster import state as cluster_state
from pytest_diego.cluster.process import ProcessInfo


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_diego", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("args", "message"), [
    (["--cells", "0"], "argument --cells: must be >= 1, got 0"),
    (["--cells", "many"], "'many' is not a whole number"),
    (["--time-scale", "-1"], "argument --time-scale: must be > 0"),
    (["--db", "mysql://root:pw@db/x"], "unsupported scheme in 'db/x'"),
    (["--cell-memory-mb", "-1"], "must be >= 0"),
])
def test_bad_values_are_usage_errors(args, message):
    result = cli("cluster", "up", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "pw" not in result.stderr


def test_unwritable_state_dir_is_a_usage_error(tmp_path: Path):
    (tmp_path / "file").write_text("")
    result = cli("cluster", "up", "--state-dir", str(tmp_path / "file" / "dir"))
    assert result.returncode == 2
    assert "is not writable" in result.stderr and "--state-dir" in result.stderr


def test_down_without_a_cluster_says_so(tmp_path: Path):
    result = cli("cluster", "down", "--state-dir", str(tmp_path))
    assert result.returncode == 1
    assert "no cluster.json" in result.stderr


def test_cluster_command_needs_a_subcommand():
    result = cli("cluster")
    assert result.returncode == 2 and "{up,down,status}" in result.stderr


def wait_for_command_cluster(state_dir: Path, launcher_pid: int) -> cluster_state.ClusterState:
    def ready() -> cluster_state.ClusterState | None:
        try:
            st = cluster_state.read(state_dir)
        except cluster_state.ClusterStateError:
            return None
        return st if st.launcher.get("pid") == launcher_pid and st.launcher.get("command") else None

    return wait_until(ready, 90, "cluster.json of the launcher")  # type: ignore[return-value]


def test_sigkill_of_cluster_up_leaves_no_process(tmp_path: Path):
    launcher = subprocess.Popen(
        [sys.executable, "-m", "pytest_diego", "cluster", "up", "--cells", "3", "--time-scale", "0.1",
         "--state-dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL)
    try:
        st = wait_for_command_cluster(tmp_path, launcher.pid)
        procs = cluster_processes(st)
        assert len(procs) >= 7 and all(p.is_ours() for p in procs.values())
    finally:
        launcher.kill()
        launcher.wait()
    wait_until(lambda: not any(p.is_ours() for p in procs.values()), 10,
               "every component to exit after its launcher was SIGKILLed")


def test_sigterm_of_cluster_up_stops_the_cluster(tmp_path: Path):
    launcher = subprocess.Popen(
        [sys.executable, "-m", "pytest_diego", "cluster", "up", "--cells", "2", "--time-scale", "0.1",
         "--state-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL)
    try:
        procs = cluster_processes(wait_for_command_cluster(tmp_path, launcher.pid))
        launcher.send_signal(signal.SIGTERM)
        out, err = launcher.communicate(timeout=30)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 0, err
    assert "pytest-diego embedded cluster: 2 cells" in out and "stopped; logs are in" in out
    assert not any(p.is_ours() for p in procs.values())


def test_detach_then_status_then_down(tmp_path: Path):
    up = cli("cluster", "up", "--detach", "--cells", "2", "--time-scale", "0.1", "--state-dir", str(tmp_path))
    st = cluster_state.read(tmp_path)
    launcher = ProcessInfo(st.launcher["pid"], st.launcher["create_time"])
    procs = cluster_processes(st)
    try:
        assert up.returncode == 0, up.stderr
        assert "Detached" in up.stdout and str(tmp_path) in up.stdout
        assert launcher.is_ours() and all(p.is_ours() for p in procs.values())
        assert os.getsid(launcher.pid) == launcher.pid  # own session: the shell's Ctrl-C misses it

        status = cli("cluster", "status", "--state-dir", str(tmp_path))
        assert status.returncode == 0 and "DOWN" not in status.stdout and "cell-1" in status.stdout

        down = cli("cluster", "down", "--state-dir", str(tmp_path))
        assert down.returncode == 0, down.stderr
        assert "nothing left running" in down.stdout
    finally:
        for p in [launcher, *procs.values()]:
            p.signal(signal.SIGKILL)
    assert not launcher.is_ours()
    assert not any(p.is_ours() for p in procs.values())
    assert (tmp_path / "logs" / "bbs.log").exists() and (tmp_path / "cluster.json").exists()

    status = cli("cluster", "status", "--state-dir", str(tmp_path))
    assert status.returncode == 1 and "DOWN" in status.stdout


def test_default_state_dir_is_a_new_temp_dir_and_is_printed():
    up = cli("cluster", "up", "--detach", "--cells", "1", "--time-scale", "0.1")
    first = up.stdout.splitlines()[0] if up.stdout else ""
    assert first.startswith("state dir: "), up.stdout + up.stderr
    state_dir = Path(first.removeprefix("state dir: "))
    try:
        assert up.returncode == 0, up.stderr
        assert (state_dir / "cluster.json").exists()
    finally:
        down = cli("cluster", "down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
