"""The processes a launcher starts: spawned components, forked cells, their run files and records.

Components are spawned on the ``Spawner``'s long-lived thread; cells are forked by the cluster's
fork server (over its pipes by the owner, over its socket by an attached process), so a cell
restarted later lives as long as the cluster rather than as long as the process that restarted
it. Either way the launcher then waits for the process's run file (``<state_dir>/run/<name>.json``).
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_diego.cluster.commands import CELL_MODULE, CELL_PRELOAD
from pytest_diego.cluster.process import (
    Child,
    ForkServer,
    ProcessInfo,
    Spawner,
    create_time_of,
    fork_via_socket,
    wait_for_run_files,
)
from pytest_diego.cluster.state import CellRecord, ComponentRecord

MAX_UNIX_SOCKET_PATH = 100  # sun_path holds 108 bytes


@dataclass
class CellHandle:
    cell_id: str
    zone: str
    address: str
    pid: int
    rep_url: str
    metrics_url: str
    log_path: Path
    create_time: float = 0.0
    _proc: Child | None = field(default=None, repr=False, compare=False)

    @property
    def alive(self) -> bool:
        if self._proc is not None:
            self._proc.poll()
        return ProcessInfo(self.pid, self.create_time).is_ours()


class Children:
    """This process's children in one cluster, by component name or cell id."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.procs: dict[str, Child] = {}
        self._spawner: Spawner | None = None

    def output_log(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.out"

    def lager_log(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def _forget_run_file(self, name: str) -> None:
        with suppress(FileNotFoundError):
            (self.state_dir / "run" / f"{name}.json").unlink()

    @property
    def spawner(self) -> Spawner:
        if self._spawner is None:
            self._spawner = Spawner()
        return self._spawner

    def spawn(self, name: str, command: list[str]) -> Child:
        """``python -m command[0] command[1:]``, its output in ``logs/<name>.out``."""
        self._forget_run_file(name)
        proc = self.spawner.spawn(command, self.output_log(name))
        self.procs[name] = proc
        return proc

    def start_forkserver(self) -> tuple[ForkServer, ComponentRecord]:
        """The fork server every cell comes from; its socket lets attached processes fork too."""
        socket_path: Path | None = self.state_dir / "run" / "forkserver.sock"
        if len(str(socket_path)) > MAX_UNIX_SOCKET_PATH:  # restarts then spawn cells directly
            socket_path = None
        forkserver = ForkServer(self.spawner, CELL_PRELOAD, self.output_log("forkserver"), socket_path)
        self.procs["forkserver"] = forkserver.proc
        record = ComponentRecord(
            pid=forkserver.proc.pid, create_time=create_time_of(forkserver.proc.pid), url="", metrics_url="",
            log=str(self.output_log("forkserver")), extra={"socket": str(socket_path or "")})
        return forkserver, record

    def fork_cell(self, forkserver: ForkServer, cell_id: str, command: list[str]) -> None:
        self._forget_run_file(cell_id)
        log = self.output_log(cell_id)
        self.procs[cell_id] = forkserver.fork(CELL_MODULE, command[1:], log, name=cell_id)

    def restart_cell(self, forkserver: ComponentRecord | None, cell_id: str, command: list[str]) -> None:
        """Fork the cell through the cluster's fork server if it still runs, else spawn it here."""
        socket_path = forkserver.extra.get("socket") if forkserver else None
        if forkserver and socket_path and ProcessInfo(forkserver.pid, forkserver.create_time).is_ours():
            self._forget_run_file(cell_id)
            self.procs[cell_id] = fork_via_socket(Path(socket_path), CELL_MODULE, command[1:],
                                                  self.output_log(cell_id), name=cell_id)
        else:
            self.spawn(cell_id, command)

    def wait(self, names: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Each run file's content, once all are written; ComponentStartError if one dies first."""
        procs = {n: self.procs[n] for n in names}
        return wait_for_run_files(self.state_dir, procs, {n: self.output_log(n) for n in names}, timeout)

    def record(self, name: str, info: dict[str, Any]) -> ComponentRecord:
        """cluster.json's record of a component from its run file."""
        extra = {k: v for k, v in info.items() if k not in ("pid", "url", "metrics_url")}
        return ComponentRecord(pid=info["pid"], create_time=create_time_of(info["pid"]),
                               url=info.get("url", ""), metrics_url=info.get("metrics_url", ""),
                               log=str(self.lager_log(name)), extra=extra)

    def cell_handle(self, rec: CellRecord) -> CellHandle:
        return CellHandle(rec.cell_id, rec.zone, rec.address, rec.pid, rec.rep_url, rec.metrics_url,
                          Path(rec.log), rec.create_time, self.procs.get(rec.cell_id))
