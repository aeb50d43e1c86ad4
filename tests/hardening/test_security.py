"""Security: with TLS on, a client with no certificate, an expired one, or one from another CA is
refused; nothing listens beyond loopback unless asked; no secret (private keys, the DSN's
password, the router status password) appears in logs, cluster.json, results, the report or the
processes' command lines."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_diego.bbs import BBSClient
from pytest_diego.bbs.errors import BBSClientError, BBSError
from pytest_diego.cluster.bbs import BBSConfig, BBSServer
from pytest_diego.cluster.router.status import FILENAME as ROUTER_STATUS_FILE
from pytest_diego.tlsutil import IssuedCert, generate_ca, issue_cert
from tests.support.certificates import expired_cert
from tests.support.postgres import running_postgres

PASSWORD = "hardening-S3cret-pw"
Clients = dict[str, "IssuedCert | None"]


@pytest.fixture(scope="module")
def tls_bbs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BBSServer, Clients]]:
    tls = tmp_path_factory.mktemp("tls")
    ca = generate_ca(tls, "bbs-ca")
    other = generate_ca(tls / "other", "other-ca")
    server_cert = issue_cert(ca, tls, "bbs", ip_sans=("127.0.0.1",))
    clients: dict[str, IssuedCert | None] = {
        "valid": issue_cert(ca, tls, "client", client=True),
        "none": None,
        "expired": expired_cert(ca, tls, "expired", client=True),
        "another CA": issue_cert(other, tls / "other", "client", client=True),
        "server certificate as client": server_cert,
    }
    config = BBSConfig(state_dir=tls / "state", tls_ca=ca.cert_file, tls_cert=server_cert.cert_file,
                       tls_key=server_cert.key_file, convergence_interval=3600.0)
    with BBSServer(config) as server:
        yield server, clients


@pytest.mark.parametrize("kind", ["none", "expired", "another CA", "server certificate as client"])
def test_tls_refuses_bad_client_certificates(tls_bbs, kind):
    server, clients = tls_bbs
    valid = clients["valid"]
    assert valid is not None
    cert = clients[kind]
    with BBSClient(server.url, ca_file=str(valid.ca_file), cert_file=str(cert.cert_file) if cert else None,
                   key_file=str(cert.key_file) if cert else None, timeout=10) as client, \
            pytest.raises(BBSClientError) as refused:
        client.desired_lrps()
    assert not isinstance(refused.value, BBSError), "the BBS answered a request it should have refused"
    assert refused.value.outcome in ("TLSError", "ConnectionError"), refused.value
    # Raw TLS: no HTTP answer ever comes back.
    assert raw_tls_answer(server, valid.ca_file, cert) == b""
    with BBSClient(server.url, ca_file=str(valid.ca_file), cert_file=str(valid.cert_file),
                   key_file=str(valid.key_file), timeout=10) as client:
        assert client.ping(), "a valid client is served after the refusal"


def test_plain_http_to_the_tls_port_gets_no_bbs_answer(tls_bbs):
    server, _ = tls_bbs
    port = server.bbs_listener.port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /v1/desired_lrps/list.r3 HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        data = _read_all(sock)
    assert b"application/x-protobuf" not in data


def raw_tls_answer(server: BBSServer, ca_file: Path, cert: IssuedCert | None) -> bytes:
    ctx = ssl.create_default_context(cafile=str(ca_file))
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert_file), str(cert.key_file))
    port = server.bbs_listener.port
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(b"POST /v1/ping HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return _read_all(sock)
    except (ssl.SSLError, OSError):
        return b""


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, OSError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_bbs_refuses_a_non_loopback_listen_address_unless_asked(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pytest_diego.cluster.bbs", "--state-dir", str(tmp_path),
                           "--listen", "0.0.0.0:0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "not a loopback address" in proc.stderr and "--allow-non-loopback" in proc.stderr
    assert "Traceback" not in proc.stderr


SECURE_RUN = """
import json, psutil, pytest

@pytest.mark.scenario("secure")
@pytest.mark.slo("RequestLatency", "count >= 1")
def test_secure_cluster(diego, bbs):
    assert bbs.ping()
    cluster = diego.cluster
    with cluster.client(timeout=10) as client:
        assert client.ping()
        client.upsert_domain("secure", 0)
    listening, cmdlines = [], {}
    for name, info in cluster.processes():
        proc = psutil.Process(info.pid)
        cmdlines[name] = proc.cmdline()
        listening += [[name, c.laddr.ip, c.laddr.port] for c in proc.net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN]
    with open("observed.json", "w") as f:
        json.dump({"listening": listening, "cmdlines": cmdlines,
                   "state_dir": str(cluster.state_dir)}, f)
"""


class SecureRun:
    """One pytest run under the plugin: TLS on, PostgreSQL store with a password in the DSN."""

    def __init__(self, path: Path, output: str, returncode: int, password: str) -> None:
        self.path = path
        self.password = password  # the PostgreSQL role's, carried in the run's --diego-db DSN
        self.output = output
        self.returncode = returncode
        self.observed = json.loads((path / "observed.json").read_text())

    def files(self, pattern: str = "*") -> list[Path]:
        return [p for p in (self.path / "diego-results").rglob(pattern) if p.is_file()]


@pytest.fixture(scope="module")
def secure_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureRun]:
    with running_postgres() as postgres:  # stopped within the module: nothing may outlive it
        dsn = postgres.server.dsn()
        path = tmp_path_factory.mktemp("secure")
        (path / "test_secure.py").write_text(SECURE_RUN)
        proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--diego-tls",
                               "--diego-db", dsn, "--diego-cells", "2", "--diego-time-scale", "0.1",
                               "-p", "no:randomly"], cwd=path, capture_output=True, text=True, timeout=240)
        output = proc.stdout + proc.stderr
        assert (path / "observed.json").exists(), f"the secure run did not get to its test:\n{output[-4000:]}"
        yield SecureRun(path, output, proc.returncode, postgres.server.password)


def test_secure_run_passes(secure_run):
    assert secure_run.returncode == 0, secure_run.output[-4000:]


def test_nothing_listens_beyond_loopback(secure_run):
    listening = secure_run.observed["listening"]
    names = {name for name, _, _ in listening}
    assert {"bbs", "auctioneer", "router", "route_emitter", "cell-0", "cell-1"} <= names, names
    beyond = [entry for entry in listening if not _loopback(entry[1])]
    assert not beyond, f"listening beyond loopback: {beyond}"
    assert "locket" in names, names


def _loopback(ip: str) -> bool:
    """127.0.0.0/8 or ::1, also as an IPv4-mapped IPv6 address (gRPC binds 127.0.0.1 that way)."""
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def test_no_secret_on_command_lines(secure_run):
    """Every local user can read a process's command line (ps)."""
    for name, cmdline in secure_run.observed["cmdlines"].items():
        assert secure_run.password not in " ".join(cmdline), f"{name}'s command line carries the DSN password"


def test_no_secret_in_logs_or_cluster_json(secure_run):
    state_dir = Path(secure_run.observed["state_dir"])
    router_status = state_dir / ROUTER_STATUS_FILE
    secret_files = [p for p in state_dir.rglob("*") if p.suffix in (".key", ".dsn") or p == router_status]
    assert any(p.suffix == ".dsn" for p in secret_files), "the DSN with its password was not kept aside"
    assert router_status in secret_files, "the router status password was not kept aside"
    for path in secret_files:  # where secrets belong: files only their owner can read
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    files = [p for p in state_dir.rglob("*") if p.is_file() and p not in secret_files]
    assert any(p.name == "cluster.json" for p in files), f"no cluster.json kept in {state_dir}"
    assert any(p.name == "bbs.log" for p in files), f"no bbs.log kept in {state_dir}"
    router_password = json.loads(router_status.read_text())["password"]
    leaks = _leaks(files, secure_run.password, router_password)
    assert not leaks, f"secrets written: {leaks}"
    for text in (secure_run.output, json.dumps(secure_run.observed["cmdlines"])):
        assert secure_run.password not in text and router_password not in text and "PRIVATE KEY" not in text


def test_no_secret_in_results_or_report(secure_run):
    files = [p for p in secure_run.files() if p.name in ("results.json", "report.html")]
    assert any(p.name == "results.json" for p in files)
    router_status = Path(secure_run.observed["state_dir"]) / ROUTER_STATUS_FILE
    leaks = _leaks(files, secure_run.password, json.loads(router_status.read_text())["password"])
    assert not leaks, f"secrets written: {leaks}"


def _leaks(files: list[Path], *secrets: str) -> list[str]:
    found = []
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        for secret in ("PRIVATE KEY", *secrets):
            if secret in text:
                found.append(f"{secret!r} in {path}")
    return found


def test_cluster_state_keeps_the_dsn_password_out_of_cluster_json(tmp_path):
    from pytest_diego.cluster import state

    dsn = f"postgresql://bbs:{PASSWORD}@127.0.0.1:5432/diego"
    st = state.ClusterState(state_dir=str(tmp_path), bbs_url="http://127.0.0.1:1", bbs_health_url="",
                            router_url="", router_admin_url="", auctioneer_url="", time_scale=1.0, db=dsn,
                            tls=None, launcher={}, components={}, cells=[])
    state.write(st)
    text = (tmp_path / state.FILENAME).read_text()
    assert PASSWORD not in text and "postgresql://bbs:***@127.0.0.1:5432/diego" in text
    assert state.read(tmp_path).db == dsn  # attach and restarts still reach the store
    assert (tmp_path / state.DSN_FILENAME).stat().st_mode & 0o077 == 0
    (tmp_path / state.DSN_FILENAME).unlink()
    with pytest.raises(state.ClusterStateError, match=state.DSN_FILENAME):
        state.read(tmp_path)
