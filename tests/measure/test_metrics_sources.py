"""The metrics sources against recorded real formats: the metrics agent's exposition (mutual TLS),
the firehose exporter's, and a Prometheus server's query API; auth, units and names."""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from recorded import basic_auth, fixture_bytes

from pytest_diego import tlsutil
from pytest_diego.measure import EndpointError, MetricsEndpoint, PrometheusQuery
from pytest_diego.measure.metric_samples import MetricNames, exporter_names, snake_case
from pytest_diego.measure.prometheus import DEFAULT_METRICS
from pytest_diego.measure.prometheus_text import parse_exposition
from tests.support.stub_server import StubServer, answer, hang

AGENT = fixture_bytes("metrics_agent.prom")
EXPORTER = fixture_bytes("firehose_exporter.prom")
QUERY = fixture_bytes("prometheus_query_vector.json")
WANTED = MetricNames([*DEFAULT_METRICS, "ConvergenceLRPRuns", "RequestCount", "RequestLatency"])


def by_name(samples):
    found: dict[str, list] = {}
    for s in samples:
        found.setdefault(s.name, []).append(s)
    return found


def test_metrics_agent_exposition_in_si_units():
    samples = by_name(parse_exposition(AGENT.decode(), WANTED))
    (duration,) = samples["ConvergenceLRPDuration"]
    assert duration.value == pytest.approx(0.021217044) and duration.unit == "s" and duration.kind == "gauge"
    assert (duration.origin, duration.instance, duration.timestamp) == ("bbs", "6b1f3c2e-bbs-0", None)
    (runs,) = samples["ConvergenceLRPRuns"]
    assert (runs.value, runs.kind, runs.unit) == (6, "counter", "")
    (bulk_sync,) = samples["RepBulkSyncDuration"]
    assert (bulk_sync.instance, bulk_sync.value) == ("cell-1", pytest.approx(0.001941544))
    assert {(s.origin, s.value) for s in samples["RequestCount"]} == {("bbs", 2286), ("auctioneer", 10)}
    assert samples["RequestLatency"][0].value == pytest.approx(0.007455511)
    count_names = ("LRPsRunning", "LRPsMissing", "LRPsDesired", "CrashedActualLRPs", "TasksPending",
                   "TasksRunning", "PresentCells")
    counts = {n: samples[n][0].value for n in count_names}
    assert counts == {"LRPsRunning": 4, "LRPsMissing": 1, "LRPsDesired": 7, "CrashedActualLRPs": 1,
                      "TasksPending": 0, "TasksRunning": 1, "PresentCells": 4}
    assert all(samples[n][0].unit == "" for n in counts)


def test_firehose_exporter_names_map_back_to_diegos():
    samples = by_name(parse_exposition(EXPORTER.decode(), WANTED))
    assert samples["ConvergenceLRPDuration"][0].value == pytest.approx(0.021217044)
    assert samples["ConvergenceLRPRuns"][0].kind == "counter"
    assert {s.value for s in samples["ContainerCount"]} == {3, 2}
    assert {s.instance for s in samples["RepBulkSyncDuration"]} == {
        "3f9c2b7a-1e4d-4c8b-a6f5-0d2e9b8c7a61", "8a1d4e6f-2b3c-4d5e-9f0a-1b2c3d4e5f60"}
    assert samples["LRPsRunning"][0].value == 4 and samples["RoutesTotal"][0].origin == "route_emitter"
    assert samples["RouteEmitterSyncDuration"][0].unit == "s"


def test_exporter_name_rule():
    assert snake_case("ConvergenceLRPDuration") == "convergence_lrp_duration"
    assert snake_case("LRPsRunning") == "lr_ps_running"
    assert snake_case("Domain.cf-apps") == "domain_cf_apps"
    names = exporter_names("ConvergenceLRPDuration", "firehose", ["bbs"])
    assert names == {"firehose_value_metric_bbs_convergence_lrp_duration": "gauge",
                     "firehose_counter_event_bbs_convergence_lrp_duration": "counter"}
    assert MetricNames(["Domain.cf-apps"]).diego_name("Domain_cf_apps") == ("Domain.cf-apps", None)


@pytest.mark.parametrize(("strcase_in", "strcase_out"), [  # Go strcase's own ToSnake cases
    ("testCase", "test_case"), ("JSONData", "json_data"), ("userID", "user_id"), ("AAAbbb", "aa_abbb"),
    ("numbers2and55with000", "numbers_2_and_55_with_000"), ("A1B", "a_1_b"), ("AB1AB2AB3", "ab_1_ab_2_ab_3"),
    ("AnyKind of_string", "any_kind_of_string"),
])
def test_snake_case_is_gos_strcase(strcase_in, strcase_out):
    assert snake_case(strcase_in) == strcase_out


# -- mutual TLS, as the metrics agent asks -------------------------------------------------------

@dataclass
class PKI:
    ca: tlsutil.CertificateAuthority
    server: tlsutil.IssuedCert
    client: tlsutil.IssuedCert
    stranger: tlsutil.IssuedCert  # a client certificate from another CA


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PKI:
    d = tmp_path_factory.mktemp("pki")
    ca, other = tlsutil.generate_ca(d / "ca", "metrics-ca"), tlsutil.generate_ca(d / "other", "other-ca")
    return PKI(ca, tlsutil.issue_cert(ca, d / "ca", "metrics-agent", ["127.0.0.1"]),
               tlsutil.issue_cert(ca, d / "ca", "scraper", [], client=True),
               tlsutil.issue_cert(other, d / "other", "scraper", [], client=True))


@pytest.fixture
def agent(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server.cert_file, pki.server.key_file)
    context.load_verify_locations(pki.ca.cert_file)
    context.verify_mode = ssl.CERT_REQUIRED
    with StubServer(answer(200, AGENT), context=context) as server:
        yield server


def test_mutual_tls_with_the_right_client_certificate_is_accepted(agent, pki, monkeypatch, tmp_path):
    unrelated = tlsutil.generate_ca(tmp_path, "unrelated")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(unrelated.cert_file))  # the CA given wins over the env's
    source = MetricsEndpoint(agent.url + "/metrics", ca_file=pki.ca.cert_file, cert_file=pki.client.cert_file,
                             key_file=pki.client.key_file, environ={})
    scrape = source.scrape(WANTED)
    assert {s.name for s in scrape.samples} >= {"ConvergenceLRPDuration", "RepBulkSyncDuration"}
    assert time.time() - scrape.observed_at < 10


@pytest.mark.parametrize("client", [None, "stranger"])
def test_mutual_tls_refuses_a_missing_or_foreign_client_certificate(agent, pki, client):
    cert = getattr(pki, client) if client else None
    files = {"cert_file": cert.cert_file, "key_file": cert.key_file} if cert else {}
    source = MetricsEndpoint(agent.url + "/metrics", ca_file=pki.ca.cert_file, timeout=3, environ={}, **files)
    started = time.monotonic()
    with pytest.raises(EndpointError) as error:
        source.scrape(WANTED)
    assert f"{agent.url}/metrics" in str(error.value)
    assert time.monotonic() - started < 6


def test_a_server_certificate_from_an_unknown_ca_is_refused_unless_skip_verify(agent, pki, tmp_path):
    other = tlsutil.generate_ca(tmp_path, "unrelated")
    client = {"cert_file": pki.client.cert_file, "key_file": pki.client.key_file, "environ": {}}
    with pytest.raises(EndpointError, match=r"TLS with .* failed.*CA certificate"):
        MetricsEndpoint(agent.url + "/metrics", ca_file=other.cert_file, **client).scrape(WANTED)
    assert MetricsEndpoint(agent.url + "/metrics", skip_verify=True, **client).scrape(WANTED).samples


# -- bearer token and basic auth -----------------------------------------------------------------

def test_bearer_token_is_sent_and_a_wrong_one_is_a_clear_error(server):
    server.responder = answer(200, AGENT, authorization="Bearer tok-123")
    assert MetricsEndpoint(server.url, bearer_token="tok-123", environ={}).scrape(WANTED).samples
    environ = {"DIEGO_METRICS_BEARER_TOKEN": "tok-123"}
    assert MetricsEndpoint(server.url, environ=environ).scrape(WANTED).samples
    with pytest.raises(EndpointError, match="401 Unauthorized: the credentials given were refused") as e:
        MetricsEndpoint(server.url, bearer_token="tok-WRONG", environ={}).scrape(WANTED)
    assert "tok-WRONG" not in str(e.value) and "DIEGO_METRICS_BEARER_TOKEN" in str(e.value)


def test_basic_auth_from_the_url(server):
    server.responder = answer(200, AGENT, authorization=basic_auth("scraper", "pw"))
    source = MetricsEndpoint(server.url.replace("://", "://scraper:pw@") + "/metrics", environ={})
    assert source.url == server.url + "/metrics" and "pw" not in repr(source)
    assert source.scrape(WANTED).samples


def test_basic_and_bearer_together_is_a_usage_error():
    with pytest.raises(ValueError, match="both basic auth and a bearer token"):
        MetricsEndpoint("http://u:p@127.0.0.1:1/metrics", bearer_token="t", environ={})


# -- a Prometheus server's query API -------------------------------------------------------------

@pytest.fixture
def prometheus(server):
    seen: list[str] = []

    def respond(request, handler):
        if request.headers.get("Authorization") != basic_auth("ops", "pw"):
            return 401, {}, b"Unauthorized\n"
        parts = urlsplit(request.path)
        if parts.path != "/prom/api/v1/query":
            return 404, {}, b"404 page not found\n"
        seen.append(parse_qs(parts.query)["query"][0])
        return 200, {"Content-Type": "application/json"}, QUERY

    server.responder = respond
    server.queries = seen
    return server


def test_instant_query_answer_in_si_units(prometheus):
    source = PrometheusQuery(prometheus.url + "/prom", user="ops", password="pw", matchers='deployment="cf"',
                             environ={})
    scrape = source.scrape(WANTED)
    samples = by_name(scrape.samples)
    assert scrape.observed_at == 1729512345.678  # the evaluation time
    assert samples["ConvergenceLRPDuration"][0].value == pytest.approx(0.021217044)
    assert samples["ConvergenceLRPDuration"][0].timestamp is None  # not the sample's own time
    assert {s.instance: s.value for s in samples["ContainerCount"]} == {"cell-1": 3, "cell-2": 2}
    assert samples["ConvergenceLRPRuns"][0].value == 6
    (query,) = prometheus.queries
    assert query.startswith('{__name__=~"') and query.endswith(',deployment="cf"}')
    for name in ("ConvergenceLRPDuration", "RepBulkSyncDuration", "convergence_lrp_duration", "firehose_"):
        assert name in query


def test_the_query_matches_every_published_form():
    import re

    selector = WANTED.promql_selector()
    pattern = re.compile("^(?:" + selector.split('"')[1] + ")$")  # Prometheus anchors regex matchers
    assert pattern.match("ConvergenceLRPDuration")
    assert pattern.match("firehose_value_metric_bbs_convergence_lrp_duration")
    assert pattern.match("firehose_counter_event_bbs_convergence_lrp_runs_total")
    assert pattern.match("firehose_value_metric_rep_rep_bulk_sync_duration")
    assert not pattern.match("ConvergenceLRPDurationX") and not pattern.match("go_goroutines")


@pytest.mark.parametrize(("status", "body", "says"), [
    (400, b'{"status":"error","errorType":"bad_data","error":"parse error at char 3"}',
     "Prometheus refused the query \\(bad_data: parse error at char 3\\)"),
    (200, b'{"status":"success","data":{"resultType":"matrix","result":[]}}', "expected an instant vector"),
    (200, b"<html>Grafana</html>", "did not answer JSON"),
    (200, b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}',
     "a series of the answer is not"),
    (404, b"404 page not found", "give the Prometheus server's base URL"),
    (500, b"oops", "answered HTTP 500"),
])
def test_bad_prometheus_answers_are_clear_errors(server, status, body, says):
    server.responder = answer(status, body, "application/json")
    with pytest.raises(EndpointError, match=says) as error:
        PrometheusQuery(server.url, environ={}).scrape(WANTED)
    assert f"{server.url}/api/v1/query" in str(error.value)


def test_prometheus_credentials_refused_name_the_fix_not_the_secret(prometheus):
    environ = {"DIEGO_PROMETHEUS_USER": "ops", "DIEGO_PROMETHEUS_PASSWORD": "nope"}
    with pytest.raises(EndpointError, match="check the Prometheus credentials") as error:
        PrometheusQuery(prometheus.url + "/prom", environ=environ).scrape(WANTED)
    assert "nope" not in str(error.value)
    assert PrometheusQuery(prometheus.url + "/prom", environ={**environ, "DIEGO_PROMETHEUS_PASSWORD": "pw"}
                           ).scrape(WANTED).samples


def test_a_hanging_prometheus_times_out_naming_the_url(server):
    server.responder = hang
    started = time.monotonic()
    with pytest.raises(EndpointError, match=r"did not answer within 0\.3 s") as error:
        PrometheusQuery(server.url, timeout=0.3, environ={}).scrape(WANTED)
    assert time.monotonic() - started < 2.5 and server.url in str(error.value)


def test_recorded_query_answer_is_prometheus_json():
    answer = json.loads(QUERY)
    assert answer["status"] == "success" and answer["data"]["resultType"] == "vector"
    assert all(isinstance(s["value"][1], str) for s in answer["data"]["result"])
    assert Path(__file__).with_name("fixtures").joinpath("README.md").is_file()
