"""``EmbeddedCluster``: start, inspect, fault and stop an embedded Diego made of real OS processes.

Start order: the BBS, auctioneer and router start together (their ports are chosen up front, so
each can be told the others' URLs), beside a fork server that imports the cell code once; once
the BBS is ready, the route emitter and every cell (forked, each its own process) start at once
and the launcher waits for their run files, then until the BBS lists every cell. The result is
written to ``<state_dir>/cluster.json`` (``state.py``), which ``attach`` reads. Cells restarted
later, from this process or an attached one, are forked by the same server (over its socket), so
they live as long as the cluster rather than as long as the process that restarted them.

Faults are real signals by pid (SIGKILL, SIGSTOP/SIGCONT), always after checking that the pid
still belongs to the process we started.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from pytest_diego.bbs import BBSClient
from pytest_diego.bbs.errors import BBSClientError
from pytest_diego.cluster import state
from pytest_diego.cluster.process import (
    Child,
    ComponentStartError,
    ForkServer,
    ProcessInfo,
    Spawner,
    create_time_of,
    fork_via_socket,
    stop_processes,
    wait_for_run_files,
)
from pytest_diego.cluster.state import CellRecord, ClusterState, ComponentRecord, TLSFiles

COMPONENTS = ("bbs", "auctioneer", "router", "route_emitter")
CELL_MODULE = "pytest_diego.cluster.cell.__main__"
# What a cell imports at start-up, imported once by the fork server (forkserver.py).
CELL_PRELOAD = (CELL_MODULE, "pytest_diego.bbs", "asyncio")
MAX_UNIX_SOCKET_PATH = 100  # sun_path holds 108 bytes
CELL_ADDRESSES_PER_OCTET = 250


class ClusterConfigError(ValueError):
    """A cluster setting that cannot work; the message says which and how to fix it."""


class ClusterError(RuntimeError):
    """An operation on a running cluster failed (unknown component, wrong state...)."""


@dataclass
class ClusterConfig:
    """What to start. Capacities left None use the cell's defaults (Diego's 32 GiB / 64 GiB / 250)."""

    cells: int = 3
    db: str | None = None  # sqlite:///path or postgresql://...; default: <state_dir>/bbs.sqlite3
    tls: bool = False
    time_scale: float = 1.0
    state_dir: Path | str | None = None  # default: a new temp dir
    zones: int = 3
    cell_memory_mb: int | None = None
    cell_disk_mb: int | None = None
    cell_containers: int | None = None
    container_model: str | None = None  # the cell's --container-model SPEC
    start_timeout: float = 120.0

    def validate(self) -> None:
        if not isinstance(self.cells, int) or self.cells < 1:
            raise ClusterConfigError(f"cells must be a whole number >= 1, got {self.cells!r}")
        if self.cells > CELL_ADDRESSES_PER_OCTET * 255:
            raise ClusterConfigError(f"at most {CELL_ADDRESSES_PER_OCTET * 255} cells fit in 127.1.0.0/16")
        if not isinstance(self.zones, int) or self.zones < 1:
            raise ClusterConfigError(f"zones must be a whole number >= 1, got {self.zones!r}")
        if not self.time_scale > 0:
            raise ClusterConfigError(
                "time_scale must be > 0 (1 = Diego's intervals, 0.1 = ten times faster), "
                f"got {self.time_scale!r}"
            )
        if not self.start_timeout > 0:
            raise ClusterConfigError(f"start_timeout must be > 0 seconds, got {self.start_timeout!r}")
        for name in ("cell_memory_mb", "cell_disk_mb", "cell_containers"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ClusterConfigError(f"{name} must be a whole number >= 0, got {value!r}")
        if self.db is not None and not self.db.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ClusterConfigError(
                f"db {self.db.split('@')[-1]!r} has an unsupported scheme: use sqlite:///path/to/bbs.sqlite3 "
                "or postgresql://user:password@host:port/dbname"
            )


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


def cell_address(index: int) -> str:
    """Cell ``i``'s own loopback address, 127.1.<i // 250>.<i % 250 + 1> (docs/internals.md)."""
    return f"127.1.{index // CELL_ADDRESSES_PER_OCTET}.{index % CELL_ADDRESSES_PER_OCTET + 1}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare_state_dir(state_dir: Path | str | None) -> Path:
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


def _refuse_running_cluster(state_dir: Path) -> None:
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


def _generate_tls(state_dir: Path) -> TLSFiles:
    from pytest_diego.tlsutil import generate_ca, issue_cert

    tls_dir = state_dir / "tls"
    ca = generate_ca(tls_dir, "bbs-ca")
    server = issue_cert(ca, tls_dir, "bbs", ip_sans=("127.0.0.1",), dns_sans=("bbs.service.cf.internal",
                                                                              "localhost"))
    client = issue_cert(ca, tls_dir, "client", client=True)
    return TLSFiles(ca_file=str(ca.cert_file), cert_file=str(client.cert_file), key_file=str(client.key_file),
                    server_cert_file=str(server.cert_file), server_key_file=str(server.key_file))


class EmbeddedCluster:
    """A running embedded Diego; build with ``start(config)`` or ``attach(state_dir)``."""

    def __init__(self, st: ClusterState, *, owner: bool) -> None:
        self._state = st
        self.owner = owner
        self.state_dir = Path(st.state_dir)
        self._spawner: Spawner | None = None
        self._procs: dict[str, Child] = {}
        self.cells: list[CellHandle] = [self._cell_handle(c) for c in st.cells]
        self._stopped = False

    # ------------------------------------------------------------------ construction

    @classmethod
    def start(cls, config: ClusterConfig | None = None) -> EmbeddedCluster:
        """Start every component and wait until the BBS lists all cells; raises
        ClusterConfigError for bad settings and ComponentStartError if a component fails."""
        config = config or ClusterConfig()
        config.validate()
        state_dir = _prepare_state_dir(config.state_dir)
        _refuse_running_cluster(state_dir)
        db = config.db or f"sqlite:///{state_dir / 'bbs.sqlite3'}"
        tls = _generate_tls(state_dir) if config.tls else None
        scheme = "https" if tls else "http"
        bbs_port, auctioneer_port = _free_port(), _free_port()
        st = ClusterState(
            state_dir=str(state_dir), bbs_url=f"{scheme}://127.0.0.1:{bbs_port}", bbs_health_url="",
            router_url="", router_admin_url="", auctioneer_url=f"http://127.0.0.1:{auctioneer_port}",
            time_scale=config.time_scale, db=db, tls=tls,
            launcher={"pid": os.getpid(), "create_time": create_time_of(os.getpid())},
            components={}, cells=[],
            config={"cell_memory_mb": config.cell_memory_mb, "cell_disk_mb": config.cell_disk_mb,
                    "cell_containers": config.cell_containers, "container_model": config.container_model,
                    "zones": config.zones, "start_timeout": config.start_timeout},
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

    # ------------------------------------------------------------------ spawning

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        if self._spawner is None:
            self._spawner = Spawner()
        with suppress(FileNotFoundError):
            (self.state_dir / "run" / f"{name}.json").unlink()
        proc = self._spawner.spawn(args, self._output_log(name))
        self._procs[name] = proc
        return proc

    def _output_log(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.out"

    def _tls_args(self) -> list[str]:
        tls = self._state.tls
        if tls is None:
            return []
        return ["--tls-ca", tls.ca_file, "--tls-cert", tls.cert_file, "--tls-key", tls.key_file]

    def _common(self) -> list[str]:
        return ["--state-dir", str(self.state_dir), "--time-scale", repr(self._state.time_scale)]

    def _bbs_args(self) -> list[str]:
        st = self._state
        db = ["--db", st.db]
        if state.has_password(st.db):  # never on a command line: every local user can read those
            db = ["--db-file", str(state.write_dsn(self.state_dir, st.db))]
        args = ["pytest_diego.cluster.bbs", *self._common(), "--listen", st.bbs_url.split("://", 1)[1],
                *db, "--auctioneer-url", st.auctioneer_url]
        if st.bbs_health_url:  # a restart keeps the health port too
            args += ["--health-listen", st.bbs_health_url.split("://", 1)[1].split("/", 1)[0]]
        if st.tls:
            args += ["--tls-ca", st.tls.ca_file, "--tls-cert", st.tls.server_cert_file,
                     "--tls-key", st.tls.server_key_file]
        return args

    def _auctioneer_args(self) -> list[str]:
        port = self._state.auctioneer_url.rsplit(":", 1)[1]
        return ["pytest_diego.cluster.auctioneer", *self._common(), "--bbs-url", self._state.bbs_url,
                "--port", port, *self._tls_args()]

    def _route_emitter_args(self) -> list[str]:
        return ["pytest_diego.cluster.route_emitter", *self._common(), "--bbs-url", self._state.bbs_url,
                "--router-admin-url", self._state.router_admin_url, *self._tls_args()]

    def _cell_args(self, cell_id: str, zone: str, address: str) -> list[str]:
        cfg = self._state.config
        args = ["pytest_diego.cluster.cell", *self._common(), "--bbs-url", self._state.bbs_url,
                "--cell-id", cell_id, "--zone", zone, "--address", address, *self._tls_args()]
        for key, flag in (("cell_memory_mb", "--memory-mb"), ("cell_disk_mb", "--disk-mb"),
                          ("cell_containers", "--containers"), ("container_model", "--container-model")):
            if cfg.get(key) is not None:
                args += [flag, str(cfg[key])]
        return args

    def _cell_argv(self, cell_id: str, zone: str, address: str) -> list[str]:
        return self._cell_args(cell_id, zone, address)[1:]

    def _wait(self, names: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        procs = {n: self._procs[n] for n in names}
        return wait_for_run_files(self.state_dir, procs, {n: self._output_log(n) for n in names}, timeout)

    def _record(self, name: str, info: dict[str, Any]) -> ComponentRecord:
        extra = {k: v for k, v in info.items() if k not in ("pid", "url", "metrics_url")}
        return ComponentRecord(pid=info["pid"], create_time=create_time_of(info["pid"]),
                               url=info.get("url", ""), metrics_url=info.get("metrics_url", ""),
                               log=str(self.state_dir / "logs" / f"{name}.log"), extra=extra)

    def _start_all(self, config: ClusterConfig) -> None:
        st = self._state
        deadline = time.monotonic() + config.start_timeout
        self._spawn("auctioneer", self._auctioneer_args())
        self._spawn("bbs", self._bbs_args())
        self._spawn("router", ["pytest_diego.cluster.router", *self._common()])
        if self._spawner is None:
            self._spawner = Spawner()
        socket_path = self.state_dir / "run" / "forkserver.sock"
        if len(str(socket_path)) > MAX_UNIX_SOCKET_PATH:  # restarts then spawn cells directly
            socket_path = None
        forkserver = ForkServer(self._spawner, CELL_PRELOAD, self._output_log("forkserver"), socket_path)
        self._procs["forkserver"] = forkserver.proc
        st.components["forkserver"] = ComponentRecord(
            pid=forkserver.proc.pid, create_time=create_time_of(forkserver.proc.pid), url="", metrics_url="",
            log=str(self._output_log("forkserver")), extra={"socket": str(socket_path or "")})
        infos = self._wait(["bbs", "auctioneer", "router"], deadline - time.monotonic())
        forkserver.wait_ready(max(deadline - time.monotonic(), 1.0))
        for name, info in infos.items():
            st.components[name] = self._record(name, info)
        st.bbs_url = infos["bbs"]["url"]
        st.bbs_health_url = infos["bbs"].get("health_url", "")
        st.auctioneer_url = infos["auctioneer"]["url"]
        st.router_url, st.router_admin_url = infos["router"]["url"], infos["router"]["admin_url"]

        self._spawn("route_emitter", self._route_emitter_args())
        planned = [(f"cell-{i}", f"z{i % config.zones}", cell_address(i)) for i in range(config.cells)]
        for cell_id, zone, address in planned:
            with suppress(FileNotFoundError):
                (self.state_dir / "run" / f"{cell_id}.json").unlink()
            self._procs[cell_id] = forkserver.fork(CELL_MODULE, self._cell_argv(cell_id, zone, address),
                                                   self._output_log(cell_id), name=cell_id)
        infos = self._wait(["route_emitter", *[c for c, _, _ in planned]], deadline - time.monotonic())
        st.components["route_emitter"] = self._record("route_emitter", infos.pop("route_emitter"))
        for cell_id, zone, address in planned:
            info = infos[cell_id]
            st.cells.append(CellRecord(cell_id, zone, address, info["pid"], create_time_of(info["pid"]),
                                       info["url"], info["metrics_url"],
                                       str(self.state_dir / "logs" / f"{cell_id}.log")))
        self.cells = [self._cell_handle(c) for c in st.cells]
        self._wait_for_cells_present({c for c, _, _ in planned}, deadline)
        self._save()

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

    def mark_command_launcher(self) -> None:
        """Record that a ``cluster up`` process owns this cluster, so ``cluster down`` may signal it."""
        self._update(lambda st: st.launcher.__setitem__("command", True))

    def _cell_handle(self, rec: CellRecord) -> CellHandle:
        return CellHandle(rec.cell_id, rec.zone, rec.address, rec.pid, rec.rep_url, rec.metrics_url,
                          Path(rec.log), rec.create_time, self._procs.get(rec.cell_id))

    def _save(self) -> None:
        with state.locked(self.state_dir):
            state.write(self._state)

    def _update(self, change: Callable[[ClusterState], object]) -> None:
        """Apply ``change`` to cluster.json as it is on disk now (another process may have
        restarted a cell since we read it), write it back, and adopt the result."""
        with state.locked(self.state_dir):
            try:
                current = state.read(self.state_dir)
            except state.ClusterStateError:
                current = self._state
            change(current)
            state.write(current)
        self._state = current
        self.cells = [self._cell_handle(c) for c in current.cells]

    def refresh(self) -> None:
        """Re-read cluster.json, to see pids of components restarted by other processes."""
        self._update(lambda st: None)

    # ------------------------------------------------------------------ addresses

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
    def auctioneer_url(self) -> str:
        return self._state.auctioneer_url

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

    def to_json(self) -> dict[str, Any]:
        return self._state.to_json()

    # ------------------------------------------------------------------ processes and faults

    def _process(self, name: str) -> ProcessInfo:
        if name in self._state.components:
            rec = self._state.components[name]
            return ProcessInfo(rec.pid, rec.create_time)
        for cell in self._state.cells:
            if cell.cell_id == name:
                return ProcessInfo(cell.pid, cell.create_time)
        known = ", ".join([*self._state.components, *(c.cell_id for c in self._state.cells[:3]), "..."])
        raise ClusterError(f"no component or cell named {name!r}; known: {known}")

    def processes(self) -> Iterator[tuple[str, ProcessInfo]]:
        for name in self._state.components:
            yield name, self._process(name)
        for cell in self._state.cells:
            yield cell.cell_id, ProcessInfo(cell.pid, cell.create_time)

    def alive(self, name: str) -> bool:
        proc = self._procs.get(name)
        if proc is not None:
            proc.poll()  # reap, so a killed child stops looking alive
        return self._process(name).is_ours()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> bool:
        """Send ``sig`` to a component ("bbs", "router"...) or a cell; False if it was not running."""
        sent = self._process(name).signal(sig)
        if sent and sig == signal.SIGKILL and name in self._procs:
            with suppress(subprocess.TimeoutExpired):
                self._procs[name].wait(timeout=5)
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

    def _cell_record(self, cell_id: str) -> CellRecord:
        for cell in self._state.cells:
            if cell.cell_id == cell_id:
                return cell
        raise ClusterError(f"no cell {cell_id!r}; cells are cell-0..cell-{len(self._state.cells) - 1}")

    def _timeout(self) -> float:
        return float(self._state.config.get("start_timeout", 120.0))

    def _ensure_stopped(self, name: str) -> None:
        proc = self._process(name)
        if proc.is_ours():
            proc.signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            stop_processes([proc], grace=5.0, children=[p for n, p in self._procs.items() if n == name])

    def restart_cell(self, cell_id: str) -> CellHandle:
        """Stop the cell if it runs, start it again with the same id, zone, address and capacity."""
        rec = self._cell_record(cell_id)
        self._ensure_stopped(cell_id)
        forkserver = self._state.components.get("forkserver")
        socket_path = forkserver.extra.get("socket") if forkserver else None
        if forkserver and socket_path and ProcessInfo(forkserver.pid, forkserver.create_time).is_ours():
            with suppress(FileNotFoundError):
                (self.state_dir / "run" / f"{cell_id}.json").unlink()
            self._procs[cell_id] = fork_via_socket(Path(socket_path), CELL_MODULE,
                                                   self._cell_argv(rec.cell_id, rec.zone, rec.address),
                                                   self._output_log(cell_id), name=cell_id)
        else:
            self._spawn(cell_id, self._cell_args(rec.cell_id, rec.zone, rec.address))
        info = self._wait([cell_id], self._timeout())[cell_id]

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
        if name not in COMPONENTS:
            if any(c.cell_id == name for c in self._state.cells):
                self.restart_cell(name)
                return
            raise ClusterError(f"no component {name!r}; components are {', '.join(COMPONENTS)}")
        self._ensure_stopped(name)
        rec = self._state.components[name]
        args = {"bbs": self._bbs_args, "auctioneer": self._auctioneer_args,
                "route_emitter": self._route_emitter_args}.get(name)
        if name == "router":
            port, admin_port = rec.url.rsplit(":", 1)[1], rec.extra["admin_url"].rsplit(":", 1)[1]
            argv = ["pytest_diego.cluster.router", *self._common(), "--port", port,
                    "--admin-port", admin_port]
        else:
            assert args is not None
            argv = args()
        self._spawn(name, argv)
        record = self._record(name, self._wait([name], self._timeout())[name])
        self._update(lambda st: st.components.__setitem__(name, record))

    def wipe_store(self) -> None:
        """Delete the BBS's data (Diego's "database node lost its disk"). The BBS must be stopped
        first (``kill_bbs()``); ``restart_bbs()`` then starts on an empty store.

        SQLite: the database file and its WAL/SHM files are deleted. PostgreSQL: the BBS's tables
        (those its migrations create, and ``schema_migrations``) are dropped; nothing else is.
        """
        if self.alive("bbs"):
            raise ClusterError("the BBS is running: stop it first (kill_bbs()), wipe, then restart_bbs()")
        db = self._state.db
        if db.startswith("sqlite:///"):
            path = Path(db[len("sqlite:///"):])
            for suffix in ("", "-wal", "-shm", "-journal"):
                with suppress(FileNotFoundError):
                    Path(f"{path}{suffix}").unlink()
            return
        _drop_postgres_tables(db)

    def stop(self) -> None:
        """Stop every process of the cluster (SIGTERM, SIGKILL after 5 s); logs stay."""
        if self._stopped:
            return
        self._stopped = True
        if (self.state_dir / state.FILENAME).exists():
            self.refresh()  # pids of components other processes restarted
        targets = [info for _, info in self.processes()]
        recorded = {info.pid for info in targets}
        for proc in self._procs.values():  # spawned but never recorded: a failed start
            if proc.pid not in recorded and proc.poll() is None:
                with suppress(psutil.NoSuchProcess):
                    targets.append(ProcessInfo(proc.pid, create_time_of(proc.pid)))
        for info in targets:
            info.signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
        stop_processes(targets, grace=5.0, children=list(self._procs.values()))


def _drop_postgres_tables(dsn: str) -> None:
    import re

    import psycopg

    from pytest_diego.cluster.bbs.schema import MIGRATIONS

    tables = {m for _, statements in MIGRATIONS for s in statements
              for m in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", s)}
    tables.add("schema_migrations")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in sorted(tables):
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
