"""The launcher's side of ``<state_dir>/cluster.json``: the state dir, and read-modify-write of the file.

``state.py`` is the file's format; this module is how a launcher or an attached process keeps it:
making the state dir, refusing a dir whose cluster still runs, and changing the file under its lock
as it is on disk now (another process may have restarted a cell since we read it).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from pytest_diego.cluster import state
from pytest_diego.cluster.cluster_config import ClusterConfigError
from pytest_diego.cluster.process import ProcessInfo
from pytest_diego.cluster.state import ClusterState


def prepare_state_dir(state_dir: Path | str | None) -> Path:
    """The state dir with its run/ and logs/, made if needed (a new temp dir for None)."""
    path = Path(tempfile.mkdtemp(prefix="pytest-diego-")) if state_dir is None else Path(state_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        for sub in ("run", "logs"):
            (path / sub).mkdir(exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ClusterConfigError(f"state dir {path} is not writable ({exc.strerror}); choose another "
                                 "with --state-dir") from exc
    return path.resolve()


def refuse_running_cluster(state_dir: Path) -> None:
    """Raise if the cluster.json there names a launcher or component that still runs."""
    try:
        previous = state.read(state_dir)
    except state.ClusterStateError:
        return
    owner = previous.launcher
    running = [ProcessInfo(int(owner.get("pid", 0)), float(owner.get("create_time", 0)))]
    running += [ProcessInfo(c.pid, c.create_time) for c in previous.components.values()]
    if any(p.is_ours() for p in running):
        raise ClusterConfigError(
            f"a cluster is already running in {state_dir}: stop it with `python -m pytest_diego cluster down "
            f"--state-dir {state_dir}` or choose another --state-dir"
        )


class ClusterFile:
    """A cluster's state as this process knows it, and its cluster.json."""

    def __init__(self, st: ClusterState) -> None:
        self.state = st
        self.state_dir = Path(st.state_dir)

    @property
    def exists(self) -> bool:
        return (self.state_dir / state.FILENAME).exists()

    def save(self) -> None:
        with state.locked(self.state_dir):
            state.write(self.state)

    def update(self, change: Callable[[ClusterState], object]) -> ClusterState:
        """Apply ``change`` to cluster.json as it is on disk now, write it back, adopt the result."""
        with state.locked(self.state_dir):
            try:
                current = state.read(self.state_dir)
            except state.ClusterStateError:
                current = self.state
            change(current)
            state.write(current)
        self.state = current
        return current
