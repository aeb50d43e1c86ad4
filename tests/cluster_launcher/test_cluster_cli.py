"""``python -m pytest_diego cluster up|down|status`` as a user runs it, and no stray processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from launcher_helpers import cluster_processes, still_running

from pytest_diego.cluster import ClusterConfig, EmbeddedCluster, postgres
from pytest_diego.cluster import state as cluster_state
from pytest_diego.cluster.process import ProcessInfo
from tests.support.waits import wait_until


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_diego", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("args", "message"), [
    (["--cells", "0"], "argument --cells: must be >= 1, got 0"),
    (["--cells", "many"], "'many' is not a whole number"),
    (["--time-scale", "-1"], "argument --time-scale: must be > 0"),
    (["--db", "mysql://root:pw@db/x"], "unsupported scheme in 'db/x'"),
    (["--cell-memory-mb", "-1"], "must be >= 0"),
    (["--start-timeout", "0"], "argument --start-timeout: must be > 0 seconds, got 0"),
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
    assert result.returncode == 2 and "{up,down,status,fault}" in result.stderr


def wait_for_command_cluster(state_dir: Path, launcher_pid: int) -> cluster_state.ClusterState:
    def ready() -> cluster_state.ClusterState | None:
        try:
            st = cluster_state.read(state_dir)
        except cluster_state.ClusterStateError:
            return None
        return st if st.launcher.get("pid") == launcher_pid and st.launcher.get("command") else None

    return wait_until(ready, 90, "cluster.json of the launcher")  # type: ignore[return-value]


@pytest.mark.parametrize("db", [[], ["--db", "postgresql"]], ids=["sqlite", "own-postgres"])
def test_sigkill_of_cluster_up_leaves_no_process(tmp_path: Path, db: list[str]):
    launcher = subprocess.Popen(
        [sys.executable, "-m", "pytest_diego", "cluster", "up", "--cells", "3", "--time-scale", "0.1",
         "--state-dir", str(tmp_path), *db], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL)
    try:
        st = wait_for_command_cluster(tmp_path, launcher.pid)
        procs = cluster_processes(st)
        assert len(procs) >= 7 + len(db) // 2 and all(p.is_ours() for p in procs.values())
        backends = psutil.Process(procs["postgres"].pid).children() if db else []
    finally:
        launcher.kill()
        launcher.wait()
    wait_until(lambda: not any(p.is_ours() for p in procs.values()), 10,
               "every component to exit after its launcher was SIGKILLed")
    wait_until(lambda: not still_running(backends), 10, "the database's backends to exit with it")
    scratch = st.components["postgres"].extra["scratch_dir"] if db else ""
    if scratch:  # as root the data was outside the state dir: the next database start deletes it
        assert Path(scratch) in postgres.sweep_scratch() and not Path(scratch).exists()


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
        shutil.rmtree(state_dir, ignore_errors=True)
    assert down.returncode == 0, down.stderr


def test_fault_has_the_launcher_deliver_it_so_a_restarted_bbs_outlives_the_command(tmp_path: Path):
    up = cli("cluster", "up", "--detach", "--cells", "2", "--time-scale", "0.1", "--state-dir", str(tmp_path))
    assert up.returncode == 0, up.stderr
    st = cluster_state.read(tmp_path)
    launcher = ProcessInfo(st.launcher["pid"], st.launcher["create_time"])
    try:
        old_bbs = cluster_processes(st)["bbs"]
        killed = cli("cluster", "fault", "kill_bbs", "--state-dir", str(tmp_path))
        assert killed.returncode == 0 and "kill_bbs: done" in killed.stdout, killed.stderr
        assert not old_bbs.is_ours()
        restarted = cli("cluster", "fault", "restart_bbs", "--state-dir", str(tmp_path))
        assert restarted.returncode == 0, restarted.stderr
        new_bbs = cluster_processes(cluster_state.read(tmp_path))["bbs"]
        assert new_bbs.pid != old_bbs.pid
        assert psutil.Process(new_bbs.pid).ppid() == launcher.pid  # not the finished command's
        with EmbeddedCluster.attach(tmp_path).client() as bbs:
            wait_until(bbs.ping, 30, "the restarted BBS to serve")

        gone = cli("cluster", "fault", "kill_cell", "cell-1", "--state-dir", str(tmp_path))
        again = cli("cluster", "fault", "kill_cell", "cell-1", "--state-dir", str(tmp_path))
        assert gone.returncode == 0 and "kill_cell cell-1: done" in gone.stdout
        assert again.returncode == 0 and "kill_cell cell-1: was not running" in again.stdout

        unknown = cli("cluster", "fault", "kill_cell", "cell-9", "--state-dir", str(tmp_path))
        assert unknown.returncode == 1
        assert "kill_cell cell-9: no cell 'cell-9'; cells are cell-0..cell-1" in unknown.stderr
        stray = cli("cluster", "fault", "kill_bbs", "bbs", "--state-dir", str(tmp_path))
        assert stray.returncode == 2 and "kill_bbs takes no target (got 'bbs')" in stray.stderr
    finally:
        cli("cluster", "down", "--state-dir", str(tmp_path))
    assert not launcher.is_ours()
    down_already = cli("cluster", "fault", "restart_bbs", "--state-dir", str(tmp_path))
    assert down_already.returncode == 1 and "is its `cluster up` still running?" in down_already.stderr


def test_fault_on_a_cluster_not_started_by_up_says_what_delivers_faults(tmp_path: Path):
    with EmbeddedCluster.start(ClusterConfig(cells=1, time_scale=0.1, state_dir=tmp_path)):
        result = cli("cluster", "fault", "kill_bbs", "--state-dir", str(tmp_path))
    assert result.returncode == 1
    assert ("was not started by `python -m pytest_diego cluster up`, whose process delivers faults"
            in result.stderr)
