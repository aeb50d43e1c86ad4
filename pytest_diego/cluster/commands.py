"""Each component's command line, built from cluster.json's state by one function per component.

Start and restart both call these, so a restarted component gets exactly the arguments of the
first start plus the addresses that start settled (ports included: clients simply reconnect).
A command is ``[module, *argv]``, spawned as ``python -m module argv``; a cell is usually forked
by the fork server instead, as ``CELL_MODULE`` with the same ``argv``.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_diego.cluster import state
from pytest_diego.cluster.cluster_config import PlannedCell
from pytest_diego.cluster.state import CellRecord, ClusterState

CELL_MODULE = "pytest_diego.cluster.cell.__main__"
CELL_PRELOAD = (CELL_MODULE, "pytest_diego.bbs", "asyncio")
"""What a cell imports at start-up, imported once by the fork server (forkserver.py)."""

CELL_CAPACITY_FLAGS = (("cell_memory_mb", "--memory-mb"), ("cell_disk_mb", "--disk-mb"),
                       ("cell_containers", "--containers"), ("container_model", "--container-model"))


def _common(st: ClusterState) -> list[str]:
    return ["--state-dir", st.state_dir, "--time-scale", repr(st.time_scale)]


def _host_port(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def _port(url: str) -> str:
    """The port of ``url``; "0" (any free port) while it is not known yet."""
    return _host_port(url).rsplit(":", 1)[1] if url else "0"


def _client_tls(st: ClusterState) -> list[str]:
    """The client certificate a component presents to the BBS."""
    if st.tls is None:
        return []
    return ["--tls-ca", st.tls.ca_file, "--tls-cert", st.tls.cert_file, "--tls-key", st.tls.key_file]


def locket_command(st: ClusterState) -> list[str]:
    """Locket keeps its address (and its lock file) across restarts: holders simply reconnect."""
    record = st.components.get("locket")
    health_url = record.extra.get("health_url") if record else None
    health = _host_port(health_url) if health_url else "127.0.0.1:0"
    args = ["pytest_diego.cluster.locket", *_common(st), "--listen", st.locket_address,
            "--health-listen", health]
    if st.tls:
        args += ["--tls-ca", st.tls.ca_file, "--tls-cert", st.tls.locket_cert_file,
                 "--tls-key", st.tls.locket_key_file]
    return args


def _locket_client(st: ClusterState) -> list[str]:
    """Where the BBS finds Locket, with the cluster's client certificate (it serves Locket too)."""
    args = ["--locket-address", st.locket_address]
    if st.tls:
        args += ["--locket-ca-cert", st.tls.ca_file, "--locket-client-cert", st.tls.cert_file,
                 "--locket-client-key", st.tls.key_file]
    return args


def _rep_client(st: ClusterState) -> list[str]:
    """How the BBS and the auctioneer call reps: mutual TLS with the cluster's client certificate."""
    if st.tls is None:
        return []
    return ["--rep-ca-cert", st.tls.ca_file, "--rep-client-cert", st.tls.cert_file,
            "--rep-client-key", st.tls.key_file]


def _rep_server(st: ClusterState) -> list[str]:
    """A cell's certificate, issued at its start by the cluster CA for the key all cells share."""
    if st.tls is None:
        return []
    return ["--rep-ca", st.tls.ca_file, "--rep-ca-key", st.tls.ca_key_file, "--rep-key", st.tls.rep_key_file]


def bbs_command(st: ClusterState) -> list[str]:
    db = ["--db", st.db]
    if state.has_password(st.db):  # never on a command line: every local user can read those
        db = ["--db-file", str(state.write_dsn(st.state_dir, st.db))]
    health = _host_port(st.bbs_health_url) if st.bbs_health_url else "127.0.0.1:0"
    args = ["pytest_diego.cluster.bbs", *_common(st), "--listen", _host_port(st.bbs_url),
            "--health-listen", health, *db, "--auctioneer-url", st.auctioneer_url, *_locket_client(st),
            *_rep_client(st)]
    if st.config.get("bbs_lock_owner"):  # the same every start: a restarted BBS takes its lock back at once
        args += ["--lock-owner", st.config["bbs_lock_owner"]]
    if st.tls:
        args += ["--tls-ca", st.tls.ca_file, "--tls-cert", st.tls.server_cert_file,
                 "--tls-key", st.tls.server_key_file]
    return args


def auctioneer_command(st: ClusterState) -> list[str]:
    return ["pytest_diego.cluster.auctioneer", *_common(st), "--bbs-url", st.bbs_url,
            "--port", _port(st.auctioneer_url), *_client_tls(st), *_rep_client(st)]


def router_command(st: ClusterState) -> list[str]:
    return ["pytest_diego.cluster.router", *_common(st), "--port", _port(st.router_url),
            "--admin-port", _port(st.router_admin_url)]


def route_emitter_command(st: ClusterState) -> list[str]:
    return ["pytest_diego.cluster.route_emitter", *_common(st), "--bbs-url", st.bbs_url,
            "--router-admin-url", st.router_admin_url, *_client_tls(st)]


def cell_command(st: ClusterState, cell: PlannedCell | CellRecord) -> list[str]:
    """A cell keeps its id, zone, address and the cluster's cell capacity across restarts."""
    args = ["pytest_diego.cluster.cell", *_common(st), "--bbs-url", st.bbs_url, "--cell-id", cell.cell_id,
            "--zone", cell.zone, "--address", cell.address, *_client_tls(st),
            "--locket-address", st.locket_address, *_rep_server(st)]
    for key, flag in CELL_CAPACITY_FLAGS:
        if st.config.get(key) is not None:
            args += [flag, str(st.config[key])]
    return args


COMPONENT_COMMANDS: dict[str, Callable[[ClusterState], list[str]]] = {
    "locket": locket_command, "bbs": bbs_command, "auctioneer": auctioneer_command, "router": router_command,
    "route_emitter": route_emitter_command,
}
COMPONENTS = tuple(COMPONENT_COMMANDS)
