"""``EmbeddedCluster``: start, inspect, fault and stop an embedded Diego made of real OS processes.

Start order: the cluster's own PostgreSQL server first, when it has one (``postgres.py``); then
Locket, the BBS, auctioneer and router together (Locket's, the BBS's and the auctioneer's ports
are chosen up front, so each can be told the others' addresses; the BBS serves once it holds its
lock in Locket), beside a fork server that imports the cell code once; once the BBS is ready, the
route emitter and every cell (forked, each its own process) start at once and the launcher waits
for their run files, then until the BBS lists every cell (their presences in Locket).
The result is written to ``<state_dir>/cluster.json``, which ``attach`` reads.

The parts: ``cluster_config`` (what to start), ``commands`` (each component's command line, for
start and restart alike), ``children`` (spawning, forking, run files), ``cluster_file``
(cluster.json), ``faults`` (kill/pause/resume/restart), ``store_wipe``.
"""

from __future__ import annotations

import atexit
import os
import signal
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil

from pytest_diego.bbs import BBSClient
from pytest_diego.bbs.errors import BBSClientError
from pytest_diego.cluster import state
from pytest_diego.cluster.children import CellHandle, Children
from pytest_diego.cluster.cluster_config import OWN_POSTGRES, ClusterConfig, ClusterConfigError, PlannedCell
from pytest_diego.cluster.cluster_file import ClusterFile, prepare_state_dir, refuse_running_cluster
from pytest_diego.cluster.commands import (
    auctioneer_command,
    bbs_command,
    cell_command,
    locket_command,
    route_emitter_command,
    router_command,
)
from pytest_diego.cluster.faults import DATABASE, ClusterError, Faults
from pytest_diego.cluster.ports import free_port
from pytest_diego.cluster.postgres import PostgresServer
from pytest_diego.cluster.process import ComponentStartError, ProcessInfo, create_time_of, stop_processes
from pytest_diego.cluster.router import status as router_status
from pytest_diego.cluster.state import CellRecord, ClusterState, TLSFiles
from pytest_diego.cluster.store_wipe import wipe_store
from pytest_diego.locket import LocketClient

__all__ = ["CellHandle", "ClusterConfig", "ClusterConfigError", "ClusterError", "EmbeddedCluster"]


def _generate_tls(state_dir: Path) -> TLSFiles:
    from pytest_diego.tlsutil import generate_ca, issue_cert, new_key, write_key

    tls_dir = state_dir / "tls"
    ca = generate_ca(tls_dir, "bbs-ca")
    server = issue_cert(ca, tls_dir, "bbs", ip_sans=("127.0.0.1",), dns_sans=("bbs.service.cf.internal",
                                                                              "localhost"))
    locket = issue_cert(ca, tls_dir, "locket", ip_sans=("127.0.0.1",),
                        dns_sans=("locket.service.cf.internal", "localhost"))
    client = issue_cert(ca, tls_dir, "client", client=True)
    rep_key = write_key(tls_dir / "rep.key", new_key())  # one key for every cell's rep certificate
    return TLSFiles(ca_file=str(ca.cert_file), cert_file=str(client.cert_file), key_file=str(client.key_file),
                    server_cert_file=str(server.cert_file), server_key_file=str(server.key_file),
                    locket_cert_file=str(locket.cert_file), locket_key_file=str(locket.key_file),
                    ca_key_file=str(ca.key_file), rep_key_file=str(rep_key))


class EmbeddedCluster(Faults):
    """A running embedded Diego; build with ``start(config)`` or ``attach(state_dir)``."""

    def __init__(self, st: ClusterState, *, owner: bool) -> None:
        self.owner = owner
        self.state_dir = Path(st.state_dir)
        super().__init__(ClusterFile(st), Children(self.state_dir))
        self._stopped = False

    # ------------------------------------------------------------------ construction

    @classmethod
    def start(cls, config: ClusterConfig | None = None) -> EmbeddedCluster:
        """Start every component and wait until the BBS lists all cells; raises
        ClusterConfigError for bad settings and ComponentStartError if a component fails."""
        config = config or ClusterConfig()
        config.validate()
        state_dir = prepare_state_dir(config.state_dir)
        refuse_running_cluster(state_dir)
        db = config.db or f"sqlite:///{state_dir / 'bbs.sqlite3'}"
        tls = _generate_tls(state_dir) if config.tls else None
        scheme = "https" if tls else "http"
        bbs_port, auctioneer_port, locket_port = free_port(), free_port(), free_port()
        st = ClusterState(
            state_dir=str(state_dir), bbs_url=f"{scheme}://127.0.0.1:{bbs_port}", bbs_health_url="",
            router_url="", router_admin_url="", auctioneer_url=f"http://127.0.0.1:{auctioneer_port}",
            time_scale=config.time_scale, db=db, tls=tls,
            launcher={"pid": os.getpid(), "create_time": create_time_of(os.getpid())},
            components={}, cells=[], locket_address=f"127.0.0.1:{locket_port}",
            config={**config.restart_settings(), "bbs_lock_owner": str(uuid.uuid4())},
        )
        cluster = cls(st, owner=True)
        atexit.register(cluster.stop)
        try:
            cluster._start_all(config)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @classmethod
    def attach(cls, state_dir: Path | str) -> EmbeddedCluster:
        """The cluster described by ``<state_dir>/cluster.json`` (e.g. in an xdist worker).

        Faults work on it like on the owner's. A restarted cell is forked by the cluster's fork
        server and lives as long as the cluster; a restarted BBS, auctioneer, router or route
        emitter is a child of this process and dies with it.
        """
        return cls(state.read(state_dir), owner=False)

    def __enter__(self) -> EmbeddedCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _start_all(self, config: ClusterConfig) -> None:
        st, children = self._file.state, self._children
        deadline = time.monotonic() + config.start_timeout
        if config.db == OWN_POSTGRES:
            self._start_database(deadline)
        children.spawn("locket", locket_command(st))
        children.spawn("auctioneer", auctioneer_command(st))
        children.spawn("bbs", bbs_command(st))
        children.spawn("router", router_command(st))
        forkserver, st.components["forkserver"] = children.start_forkserver()
        infos = children.wait(["locket", "bbs", "auctioneer", "router"], deadline - time.monotonic())
        forkserver.wait_ready(max(deadline - time.monotonic(), 1.0))
        for name, info in infos.items():
            st.components[name] = children.record(name, info)
        st.bbs_url = infos["bbs"]["url"]
        st.bbs_health_url = infos["bbs"].get("health_url", "")
        st.auctioneer_url = infos["auctioneer"]["url"]
        st.router_url, st.router_admin_url = infos["router"]["url"], infos["router"]["admin_url"]

        children.spawn("route_emitter", route_emitter_command(st))
        planned = config.planned_cells()
        for cell in planned:
            children.fork_cell(forkserver, cell.cell_id, cell_command(st, cell))
        infos = children.wait(["route_emitter", *[c.cell_id for c in planned]], deadline - time.monotonic())
        st.components["route_emitter"] = children.record("route_emitter", infos.pop("route_emitter"))
        st.cells.extend(self._started_cell(cell, infos[cell.cell_id]) for cell in planned)
        self._adopt()
        self._wait_for_cells_present({c.cell_id for c in planned}, deadline)
        self._file.save()

    def _start_database(self, deadline: float) -> None:
        """The PostgreSQL server under the BBS: recorded as soon as it is spawned (so a failed
        start still stops it), ready and holding the BBS's database before the BBS starts."""
        st = self._file.state
        server = PostgresServer.create(self.state_dir)
        st.db = server.dsn()
        st.components[DATABASE] = self._spawn_database(server)
        server.wait_ready(self._children.procs[DATABASE], self._children.output_log(DATABASE),
                          deadline - time.monotonic())
        server.ensure_database()

    def _started_cell(self, cell: PlannedCell, info: dict[str, Any]) -> CellRecord:
        return CellRecord(cell.cell_id, cell.zone, cell.address, info["pid"], create_time_of(info["pid"]),
                          info["url"], info["metrics_url"], str(self._children.lager_log(cell.cell_id)))

    def _wait_for_cells_present(self, cell_ids: set[str], deadline: float) -> None:
        missing: set[str] = set(cell_ids)
        last_error: Exception | None = None
        with self.client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                try:
                    missing = cell_ids - {c.cell_id for c in client.cells()}
                    if not missing:
                        return
                except BBSClientError as exc:
                    last_error = exc
                time.sleep(0.1)
        detail = f"; last BBS error: {last_error}" if last_error else ""
        raise ComponentStartError(
            f"the BBS does not list {len(missing)} cell(s) as present: {', '.join(sorted(missing)[:10])}"
            f"{detail}. See their logs in {self.state_dir / 'logs'}."
        )

    def mark_command_launcher(self, control_socket: Path) -> None:
        """Record that a ``cluster up`` process owns this cluster, so ``cluster down`` may signal
        it and ``cluster fault`` may ask it for faults on ``control_socket``."""
        self._update(lambda st: st.launcher.update(command=True, control_socket=str(control_socket)))

    def refresh(self) -> None:
        """Re-read cluster.json, to see pids of components restarted by other processes."""
        self._update(lambda st: None)

    # ------------------------------------------------------------------ addresses

    @property
    def _state(self) -> ClusterState:
        return self._file.state

    @property
    def bbs_url(self) -> str:
        return self._state.bbs_url

    @property
    def bbs_health_url(self) -> str:
        return self._state.bbs_health_url

    @property
    def router_url(self) -> str:
        return self._state.router_url

    @property
    def router_admin_url(self) -> str:
        return self._state.router_admin_url

    @property
    def router_status_url(self) -> str:
        """The router's status listener (``GET /routes``) with its credentials in the URL, for
        ``measure.RouteTable``: a secret, never print it (RouteTable's messages leave them out)."""
        return router_status.status_url(self.router_admin_url, self._state.components["router"].extra)

    @property
    def auctioneer_url(self) -> str:
        return self._state.auctioneer_url

    @property
    def locket_address(self) -> str:
        """Diego's ``locket_address`` (host:port): cells' presences and the BBS's lock."""
        return self._state.locket_address

    @property
    def time_scale(self) -> float:
        return self._state.time_scale

    @property
    def db(self) -> str:
        return self._state.db

    @property
    def tls(self) -> TLSFiles | None:
        return self._state.tls

    @property
    def ca_file(self) -> str | None:
        return self._state.tls.ca_file if self._state.tls else None

    @property
    def cert_file(self) -> str | None:
        return self._state.tls.cert_file if self._state.tls else None

    @property
    def key_file(self) -> str | None:
        return self._state.tls.key_file if self._state.tls else None

    @property
    def metrics_urls(self) -> dict[str, str]:
        """Component or cell_id -> Prometheus ``/metrics`` URL."""
        urls = {name: c.metrics_url for name, c in self._state.components.items() if c.metrics_url}
        urls.update({c.cell_id: c.metrics_url for c in self._state.cells})
        return urls

    @property
    def log_paths(self) -> dict[str, Path]:
        """Component or cell_id -> its lager log (its raw output is beside it as ``<name>.out``)."""
        paths = {name: Path(c.log) for name, c in self._state.components.items()}
        paths.update({c.cell_id: Path(c.log) for c in self._state.cells})
        return paths

    def client(self, **kwargs: Any) -> BBSClient:
        """A BBSClient for this cluster's BBS, with the cluster's TLS files when TLS is on."""
        if self._state.tls:
            kwargs.setdefault("ca_file", self._state.tls.ca_file)
            kwargs.setdefault("cert_file", self._state.tls.cert_file)
            kwargs.setdefault("key_file", self._state.tls.key_file)
        return BBSClient(self.bbs_url, **kwargs)

    def locket_client(self, **kwargs: Any) -> LocketClient:
        """A LocketClient for this cluster's Locket, with the cluster's TLS files when TLS is on."""
        if self._state.tls:
            kwargs.setdefault("ca_file", self._state.tls.ca_file)
            kwargs.setdefault("cert_file", self._state.tls.cert_file)
            kwargs.setdefault("key_file", self._state.tls.key_file)
        return LocketClient(self.locket_address, **kwargs)

    def to_json(self) -> dict[str, Any]:
        return self._state.to_json()

    # ------------------------------------------------------------------ store and stop

    def wipe_store(self) -> None:
        """Delete the BBS's data (Diego's "database node lost its disk"). The BBS must be stopped
        first (``kill_bbs()``); ``restart_bbs()`` then starts on an empty store.

        SQLite: the database file and its WAL/SHM files are deleted. PostgreSQL: the BBS's tables
        (those its migrations create, and ``schema_migrations``) are dropped; nothing else is.
        """
        if self.alive("bbs"):
            raise ClusterError("the BBS is running: stop it first (kill_bbs()), wipe, then restart_bbs()")
        wipe_store(self._state.db)

    def stop(self) -> None:
        """Stop every process of the cluster (SIGTERM, SIGKILL after 5 s); logs stay."""
        if self._stopped:
            return
        self._stopped = True
        if self._file.exists:
            self.refresh()  # pids of components other processes restarted
        targets = [info for _, info in self.processes()]
        recorded = {info.pid for info in targets}
        procs = self._children.procs.values()
        for proc in procs:  # spawned but never recorded: a failed start
            if proc.pid not in recorded and proc.poll() is None:
                with suppress(psutil.NoSuchProcess):
                    targets.append(ProcessInfo(proc.pid, create_time_of(proc.pid)))
        for info in targets:
            info.signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
        database = self._state.components.get(DATABASE)
        if database is not None:  # fast shutdown: on SIGTERM PostgreSQL would wait for every client
            self._process(DATABASE).signal(signal.SIGINT)
        stop_processes(targets, grace=5.0, children=list(procs))
        if database is not None:
            PostgresServer.from_extra(database.extra, self._state.db).remove_scratch()
