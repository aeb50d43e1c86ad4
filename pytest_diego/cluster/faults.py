"""Faults on a running embedded cluster: kill, pause, resume and restart components and cells.

Faults are real signals by pid (SIGKILL, SIGSTOP/SIGCONT), always after checking that the pid
still belongs to the process we started (pid and creation time, ``ProcessInfo``). A restart
stops the process if it runs and starts it with the command line of its first start
(``commands.py``), then records the new pid in cluster.json for every attached process. The
cluster's own PostgreSQL server (``postgres.py``), when it has one, is killed and restarted the
same way, on its port and data directory.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import suppress

import psutil

from pytest_diego.cluster import postgres
from pytest_diego.cluster.children import CellHandle, Children
from pytest_diego.cluster.cluster_file import ClusterFile
from pytest_diego.cluster.commands import COMPONENT_COMMANDS, COMPONENTS, cell_command
from pytest_diego.cluster.postgres import PostgresServer
from pytest_diego.cluster.process import ProcessInfo, create_time_of, stop_processes
from pytest_diego.cluster.state import CellRecord, ClusterState, ComponentRecord, redact_dsn

DATABASE = "postgres"
"""The cluster's own PostgreSQL server's name among its components (cluster.json)."""


class ClusterError(RuntimeError):
    """An operation on a running cluster failed (unknown component, wrong state...)."""


class Faults:
    """The fault operations of ``EmbeddedCluster``, over its cluster.json and its children."""

    def __init__(self, file: ClusterFile, children: Children) -> None:
        self._file = file
        self._children = children
        self.cells: list[CellHandle] = []
        self._adopt()

    # -- the cluster's processes ----------------------------------------------------------------
    def _adopt(self) -> None:
        """Refresh the cell handles from the state (after a start, a restart, a re-read)."""
        self.cells = [self._children.cell_handle(c) for c in self._file.state.cells]

    def _update(self, change: Callable[[ClusterState], object]) -> None:
        self._file.update(change)
        self._adopt()

    def _process(self, name: str) -> ProcessInfo:
        st = self._file.state
        if name in st.components:
            rec = st.components[name]
            return ProcessInfo(rec.pid, rec.create_time)
        for cell in st.cells:
            if cell.cell_id == name:
                return ProcessInfo(cell.pid, cell.create_time)
        known = ", ".join([*st.components, *(c.cell_id for c in st.cells[:3]), "..."])
        raise ClusterError(f"no component or cell named {name!r}; known: {known}")

    def _cell_record(self, cell_id: str) -> CellRecord:
        cells = self._file.state.cells
        for cell in cells:
            if cell.cell_id == cell_id:
                return cell
        raise ClusterError(f"no cell {cell_id!r}; cells are cell-0..cell-{len(cells) - 1}")

    def processes(self) -> Iterator[tuple[str, ProcessInfo]]:
        for name in self._file.state.components:
            yield name, self._process(name)
        for cell in self._file.state.cells:
            yield cell.cell_id, ProcessInfo(cell.pid, cell.create_time)

    def alive(self, name: str) -> bool:
        proc = self._children.procs.get(name)
        if proc is not None:
            proc.poll()  # reap, so a killed child stops looking alive
        return self._process(name).is_ours()

    # -- signals --------------------------------------------------------------------------------
    def kill(self, name: str, sig: int = signal.SIGKILL) -> bool:
        """Send ``sig`` to a component ("bbs", "router"...) or a cell; False if it was not running."""
        sent = self._process(name).signal(sig)
        child = self._children.procs.get(name)
        if sent and sig == signal.SIGKILL and child is not None:
            with suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
        return sent

    def kill_cell(self, cell_id: str, sig: int = signal.SIGKILL) -> bool:
        self._cell_record(cell_id)
        return self.kill(cell_id, sig)

    def kill_bbs(self, sig: int = signal.SIGKILL) -> bool:
        return self.kill("bbs", sig)

    def pause(self, name: str) -> bool:
        """SIGSTOP: the process keeps its sockets but answers nothing (a hung VM or network)."""
        return self.kill(name, signal.SIGSTOP)

    def resume(self, name: str) -> bool:
        return self.kill(name, signal.SIGCONT)

    def freeze_cell(self, cell_id: str) -> bool:
        """SIGSTOP a cell, as when its VM hangs or drops every packet: its sockets stay open but
        nothing answers, so calls to it time out instead of being refused, and its presence lapses."""
        self._cell_record(cell_id)
        return self.pause(cell_id)

    def thaw_cell(self, cell_id: str) -> bool:
        """SIGCONT a frozen cell: it carries on where it stopped."""
        self._cell_record(cell_id)
        return self.resume(cell_id)

    # -- the database under the BBS -------------------------------------------------------------
    def _database(self) -> ComponentRecord:
        record = self._file.state.components.get(DATABASE)
        if record is None:
            raise ClusterError(
                f"this cluster runs no database server of its own (its BBS store is "
                f"{redact_dsn(self._file.state.db)}): start it with ClusterConfig(db='postgresql') "
                "(--db postgresql) to kill and restart the database apart from the BBS")
        return record

    def kill_database(self) -> bool:
        """SIGKILL the cluster's PostgreSQL server (the database VM dying); the BBS stays up and
        answers Diego's in-band errors until ``restart_database``. False if it was not running."""
        self._database()
        return postgres.kill(self._process(DATABASE), self._children.procs.get(DATABASE))

    def restart_database(self) -> None:
        """Start the PostgreSQL server again on its port and data directory (stopped first if it
        runs); the BBS reconnects by itself."""
        record = self._database()
        info = self._process(DATABASE)
        if info.is_ours():
            postgres.stop(info, self._children.procs.get(DATABASE))
        server = PostgresServer.from_extra(record.extra, self._file.state.db)
        new = self._spawn_database(server)
        server.wait_ready(self._children.procs[DATABASE], self._children.output_log(DATABASE),
                          self._timeout())
        self._update(lambda st: st.components.__setitem__(DATABASE, new))

    def _spawn_database(self, server: PostgresServer) -> ComponentRecord:
        """Start the server's process and return its record (before it takes connections)."""
        proc = self._children.spawn(DATABASE, server.command())
        try:
            create_time = create_time_of(proc.pid)
        except psutil.NoSuchProcess:  # exited at once: waiting for it says why
            create_time = 0.0
        return ComponentRecord(pid=proc.pid, create_time=create_time, url=server.url, metrics_url="",
                               log=str(self._children.output_log(DATABASE)), extra=server.extra())

    # -- restarts -------------------------------------------------------------------------------
    def _timeout(self) -> float:
        return float(self._file.state.config.get("start_timeout", 120.0))

    def _ensure_stopped(self, name: str) -> None:
        proc = self._process(name)
        if proc.is_ours():
            proc.signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            child = self._children.procs.get(name)
            stop_processes([proc], grace=5.0, children=[child] if child is not None else [])

    def restart_cell(self, cell_id: str) -> CellHandle:
        """Stop the cell if it runs, start it again with the same id, zone, address and capacity."""
        rec = self._cell_record(cell_id)
        self._ensure_stopped(cell_id)
        st = self._file.state
        command = cell_command(st, rec)
        self._children.restart_cell(st.components.get("forkserver"), cell_id, command)
        info = self._children.wait([cell_id], self._timeout())[cell_id]

        def change(st: ClusterState) -> None:
            for cell in st.cells:
                if cell.cell_id == cell_id:
                    cell.pid, cell.create_time = info["pid"], create_time_of(info["pid"])
                    cell.rep_url, cell.metrics_url = info["url"], info["metrics_url"]

        self._update(change)
        return next(c for c in self.cells if c.cell_id == cell_id)

    def restart_bbs(self) -> None:
        """Start the BBS again on the same address and store, so clients simply reconnect."""
        self.restart("bbs")

    def restart(self, name: str) -> None:
        """Stop ``name`` if it runs and start it again with the same arguments (ports included)."""
        if name == DATABASE:
            self.restart_database()
            return
        if name not in COMPONENTS:
            if any(c.cell_id == name for c in self._file.state.cells):
                self.restart_cell(name)
                return
            raise ClusterError(f"no component {name!r}; components are {', '.join(COMPONENTS)}")
        self._ensure_stopped(name)
        self._children.spawn(name, COMPONENT_COMMANDS[name](self._file.state))
        record = self._children.record(name, self._children.wait([name], self._timeout())[name])
        self._update(lambda st: st.components.__setitem__(name, record))
