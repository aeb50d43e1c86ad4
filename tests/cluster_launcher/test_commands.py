"""Each component's command line comes from one function used by start and restart alike: once a
start has settled the addresses, the same function gives the restart every port back."""

from __future__ import annotations

from pytest_diego.cluster.cluster_config import ClusterConfig, PlannedCell
from pytest_diego.cluster.commands import (
    COMPONENT_COMMANDS,
    auctioneer_command,
    bbs_command,
    cell_command,
    locket_command,
    route_emitter_command,
    router_command,
)
from pytest_diego.cluster.state import ClusterState, TLSFiles

TLS = TLSFiles("ca.pem", "client.pem", "client.key", "server.pem", "server.key", "locket.pem", "locket.key")


def cluster_state(**overrides: object) -> ClusterState:
    fields: dict = dict(
        state_dir="/sd", bbs_url="https://127.0.0.1:8889", bbs_health_url="http://127.0.0.1:8890",
        router_url="http://127.0.0.1:8081", router_admin_url="http://127.0.0.1:8082",
        auctioneer_url="http://127.0.0.1:9016", time_scale=0.5, db="sqlite:////sd/bbs.sqlite3", tls=TLS,
        launcher={}, components={}, cells=[], locket_address="127.0.0.1:8891",
        config={**ClusterConfig(cell_memory_mb=4096, container_model="fixed:1").restart_settings(),
                "bbs_lock_owner": "bbs-uuid"},
    )
    fields.update(overrides)
    return ClusterState(**fields)


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_every_component_has_one_command_function():
    assert set(COMPONENT_COMMANDS) == {"locket", "bbs", "auctioneer", "router", "route_emitter"}


def test_locket_keeps_its_address_and_the_bbs_and_cells_find_it_with_the_client_certificate():
    st = cluster_state()
    locket = locket_command(st)
    assert locket[0] == "pytest_diego.cluster.locket"
    assert flag(locket, "--listen") == "127.0.0.1:8891"
    assert (flag(locket, "--tls-cert"), flag(locket, "--tls-key")) == ("locket.pem", "locket.key")
    bbs = bbs_command(st)
    assert (flag(bbs, "--locket-address"), flag(bbs, "--lock-owner")) == ("127.0.0.1:8891", "bbs-uuid")
    client_files = [flag(bbs, f) for f in ("--locket-client-cert", "--locket-client-key")]
    assert client_files == ["client.pem", "client.key"]
    cell = cell_command(st, PlannedCell("cell-0", "z0", "127.1.0.1"))
    assert flag(cell, "--locket-address") == "127.0.0.1:8891"
    assert "--tls-ca" not in locket_command(cluster_state(tls=None))


def test_settled_addresses_are_passed_back():
    st = cluster_state()
    bbs = bbs_command(st)
    assert (flag(bbs, "--listen"), flag(bbs, "--health-listen")) == ("127.0.0.1:8889", "127.0.0.1:8890")
    assert flag(bbs, "--auctioneer-url") == "http://127.0.0.1:9016"
    assert flag(auctioneer_command(st), "--port") == "9016"
    router = router_command(st)
    assert (flag(router, "--port"), flag(router, "--admin-port")) == ("8081", "8082")
    assert flag(route_emitter_command(st), "--router-admin-url") == "http://127.0.0.1:8082"


def test_before_the_first_start_unknown_ports_are_any_free_port():
    st = cluster_state(bbs_health_url="", router_url="", router_admin_url="")
    assert flag(bbs_command(st), "--health-listen") == "127.0.0.1:0"
    router = router_command(st)
    assert (flag(router, "--port"), flag(router, "--admin-port")) == ("0", "0")


def test_the_bbs_gets_the_server_certificate_and_its_clients_the_client_certificate():
    st = cluster_state()
    bbs = bbs_command(st)
    assert (flag(bbs, "--tls-ca"), flag(bbs, "--tls-cert"), flag(bbs, "--tls-key")) == (
        "ca.pem", "server.pem", "server.key")
    for command in (auctioneer_command(st), route_emitter_command(st),
                    cell_command(st, PlannedCell("cell-0", "z0", "127.1.0.1"))):
        assert (flag(command, "--tls-ca"), flag(command, "--tls-cert"), flag(command, "--tls-key")) == (
            "ca.pem", "client.pem", "client.key")
    assert "--tls-ca" not in router_command(st)
    assert "--tls-ca" not in bbs_command(cluster_state(tls=None))


def test_a_cell_keeps_its_identity_and_the_cluster_capacity():
    command = cell_command(cluster_state(), PlannedCell("cell-7", "z1", "127.1.0.8"))
    assert command[0] == "pytest_diego.cluster.cell"
    flags = ("--cell-id", "--zone", "--address", "--memory-mb", "--container-model")
    assert [flag(command, f) for f in flags] == ["cell-7", "z1", "127.1.0.8", "4096", "fixed:1"]
    assert "--disk-mb" not in command  # None: the cell's own default


def test_a_password_never_reaches_the_command_line(tmp_path):
    st = cluster_state(state_dir=str(tmp_path), db="postgresql://bbs:s3cret@127.0.0.1:5432/bbs")
    command = bbs_command(st)
    assert "s3cret" not in " ".join(command)
    assert "s3cret" in (tmp_path / "bbs-db.dsn").read_text()
