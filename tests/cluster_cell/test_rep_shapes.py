"""Diego's rep API, byte for byte: the JSON of ``code.cloudfoundry.org/rep`` (fixtures/, see its
README) written and read by ``pytest_diego.rep``, the routes a hollow cell answers (ping, update,
evacuate) and its securable listener's mutual TLS."""

from __future__ import annotations

import json
import ssl
import time
from pathlib import Path

import pytest
import requests
from cell_harness import CellSideBBS, RunningCell, start_cell
from cryptography import x509

from pytest_diego import rep, tlsutil
from pytest_diego.bbs import models
from pytest_diego.cluster.cell.tls import CellCertificates, RepTLS

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def eventually(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
    return value


def test_cell_state_is_written_as_the_reps_encoder_writes_it():
    stacks = ("cflinuxfs3", "cflinuxfs4")
    state = rep.CellState(
        rep_url="https://cell-3.cell.service.cf.internal:1801", cell_id="cell-3", cell_index=3,
        rootfs_providers=rep.RootFSProviders(arbitrary=("docker",),
                                             fixed={"preloaded": stacks, "preloaded+layer": stacks}),
        available=rep.Resources(32000, 64000, 248), total=rep.Resources(32768, 65536, 250),
        lrps=(rep.LRP(process_guid="pg-1", index=2, domain="cf-apps", memory_mb=512, disk_mb=1024,
                      root_fs="preloaded:cflinuxfs4", instance_guid="ig-1", placement_tags=(),
                      state="RUNNING"),),
        tasks=(rep.Task(task_guid="tg-1", domain="cf-tasks", memory_mb=256, disk_mb=512,
                        root_fs="preloaded:cflinuxfs4", placement_tags=(), max_pids=1024, state="Running"),),
        starting_container_count=1, zone="z1")
    assert rep.encode(state.to_json()) == fixture("state.json")
    assert rep.CellState.from_json(json.loads(fixture("state.json"))) == state


def test_work_and_lrp_update_read_back_byte_for_byte():
    work = rep.Work.from_json(json.loads(fixture("work.json")))
    assert work.cell_id == "cell-3" and work.lrps[0].placement_tags == ("gpu",)
    assert work.tasks[0].placement_tags is None and work.tasks[0].state == "Invalid"
    assert rep.encode(work.to_json()) == fixture("work.json") + b"\n"
    update = rep.LRPUpdate.from_json(json.loads(fixture("lrp_update.json")))
    assert update.internal_routes == ("app.apps.internal",) and update.metric_tags["app_name"] == "dora"
    assert rep.encode(update.to_json()) == fixture("lrp_update.json") + b"\n"


def test_keys_match_without_regard_to_case_as_go_reads_them():
    text = fixture("work.json").decode().replace('"LRPs"', '"lrps"').replace('"MemoryMB"', '"memoryMb"')
    body = json.loads(text)
    assert rep.Work.from_json(body) == rep.Work.from_json(json.loads(fixture("work.json")))
    assert rep.Work.from_json({"LRPs": None}) == rep.Work()  # nulls are ignored, like unknown keys


def test_rootfs_matching_is_the_reps():
    providers = rep.RootFSProviders(arbitrary=("foo",), fixed={"bar": ("baz", "quux")})
    assert providers.to_json() == {"bar": {"set": {"baz": {}, "quux": {}}, "type": "fixed_set"},
                                   "foo": {"type": "arbitrary"}}  # rootfs_providers_test.go's
    assert providers.match("foo://any/url/is#ok") and providers.match("bar:quux")
    assert not providers.match("bar:quux/not?in=theset") and not providers.match("missingscheme://host/path")


def test_ping_update_and_evacuate(cell: RunningCell):
    assert requests.get(f"{cell.admin_url}/ping", timeout=5).status_code == 200
    cell.bbs.desire("web")
    work = rep.Work(lrps=(rep.LRP("web", 0, "d", 64, 64, "preloaded:cflinuxfs4"),), cell_id="cell-0")
    requests.post(f"{cell.url}/work", data=rep.encode(work.to_json()), timeout=5)
    lrp = eventually(lambda: cell.bbs.actual[("web", 0)].state == "RUNNING" and cell.bbs.actual[("web", 0)])
    guid = lrp.actual_lrp_instance_key.instance_guid
    for version in ("v2", "v1"):
        put = requests.put(f"{cell.url}/{version}/lrps/web/instances/{guid}", data=fixture("lrp_update.json"),
                           timeout=5)
        assert put.status_code == 202
    assert cell.rep.lrps[guid].metric_tags == {"app_name": "dora", "source_id": "pg-1"}
    assert requests.put(f"{cell.url}/v2/lrps/web/instances/nope", data=fixture("lrp_update.json"),
                        timeout=5).status_code == 500
    assert requests.put(f"{cell.url}/v2/lrps/web/instances/{guid}", data=b"{", timeout=5).status_code == 400

    cell.bbs.keep_evacuated = False  # the replacement runs: the BBS tells the cell to let go
    answer = requests.post(f"{cell.admin_url}/evacuate", timeout=5)
    assert (answer.status_code, answer.content) == (202, fixture("evacuate.json"))
    assert rep.CellState.from_json(requests.get(f"{cell.url}/state", timeout=5).json()).evacuating
    refused = requests.post(f"{cell.url}/work", data=rep.encode(work.to_json()), timeout=5)
    assert rep.Work.from_json(refused.json()).lrps == work.lrps  # an evacuating cell takes nothing
    (args,) = eventually(lambda: cell.bbs.called("evacuate_running_actual_lrp"))
    assert args[0].process_guid == "web" and args[1].instance_guid == guid
    eventually(lambda: not cell.rep.lrps)
    assert cell.bbs.called("remove_actual_lrp") == []  # evacuated, not removed


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("pki")
    ca = tlsutil.generate_ca(directory, "rep-ca")
    other = tlsutil.generate_ca(directory, "other-ca")
    return {"ca": ca, "client": tlsutil.issue_cert(ca, directory, "bbs-client", client=True),
            "stranger": tlsutil.issue_cert(other, directory, "stranger", client=True)}


def test_the_securable_listener_is_mutual_tls_with_a_certificate_for_the_cell(pki, tmp_path):
    certificates = CellCertificates(RepTLS(client_ca_file=str(pki["ca"].cert_file),
                                           ca_file=str(pki["ca"].cert_file),
                                           ca_key_file=str(pki["ca"].key_file)))
    cells = start_cell(tmp_path, CellSideBBS(), tls=certificates)
    cell = next(cells)
    try:
        assert cell.url.startswith("https://")
        client = pki["client"]
        with rep.RepClient(ca_file=pki["ca"].cert_file, cert_file=client.cert_file,
                           key_file=client.key_file) as ok:
            assert ok.state(cell.url).cell_id == "cell-0"  # verified against the IP in the certificate
        der = ssl.get_server_certificate(tuple(cell.url[len("https://"):].split(":")))  # type: ignore[arg-type]
        sans = x509.load_pem_x509_certificate(der.encode()).extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == ["cell-0.cell.service.cf.internal"]
        assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == [cell.address]
        stranger = pki["stranger"]
        stranger_client = rep.RepClient(ca_file=pki["ca"].cert_file, cert_file=stranger.cert_file,
                                        key_file=stranger.key_file)
        for refused in (rep.RepClient(), stranger_client):
            with refused, pytest.raises(rep.RepError):
                refused.state(cell.url)
        # no client certificate at all: refused in the handshake (TLS 1.3: the connection is closed)
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            requests.get(f"{cell.url}/state", verify=str(pki["ca"].cert_file), timeout=5)
    finally:
        next(cells, None)


def test_a_bbs_models_presence_is_the_reps(cell):
    presence = cell.rep.presence()
    assert isinstance(presence, models.CellPresence)
    assert (presence.rep_url, presence.rep_address) == (cell.url, cell.admin_url)
