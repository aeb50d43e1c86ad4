"""``RouteTable`` against gorouter's recorded ``/routes`` body, served with basic auth."""

from __future__ import annotations

import json
import time

import pytest
from recorded import basic_auth, fixture_bytes

from pytest_diego.measure import EndpointConfigError, EndpointError, Measurements, RouteTable
from pytest_diego.measure.route_table import parse_routes
from tests.support.stub_server import answer, hang

ROUTES = fixture_bytes("gorouter_routes.json")
USER, PASSWORD = "router-status", "s3cret-pa$$"
APP = "sample-app.example.com"
INSTANCES = {"eb41e191-42d8-4791-4ce5-9f32", "9b597813-cede-4ff0-50eb-185b"}


def with_credentials(url: str, user: str = USER, password: str = "s3cret-pa%24%24") -> str:
    return url.replace("://", f"://{user}:{password}@", 1)


@pytest.fixture
def router(server):
    server.responder = answer(200, ROUTES, "application/json", basic_auth(USER, PASSWORD))
    return server


def test_reads_the_recorded_table_with_credentials_in_the_url(router):
    table = RouteTable(with_credentials(router.url), environ={})
    snapshot = table.read()
    assert snapshot.routes_total == 2  # what the route emitter's RoutesTotal counts
    assert snapshot.hostnames == {APP}
    apps = snapshot.app_routes([APP, "missing.example.com"])
    assert apps[APP].endpoints == 2 and apps[APP].instance_guids == INSTANCES
    assert apps["missing.example.com"].endpoints == 0 and not apps["missing.example.com"].instance_guids
    (first, second) = snapshot.routes[APP]
    assert (first.address, first.ttl, first.availability_zone, first.protocol, first.tls) == \
        ("127.0.0.1:62000", 120, "z2", "http1", False)
    assert first.tags == {"component": "route-emitter", "source_id": "sample-app"}
    assert second.instance_guid == "9b597813-cede-4ff0-50eb-185b"


def test_credentials_from_the_environment(router):
    environ = {"DIEGO_ROUTER_STATUS_USER": USER, "DIEGO_ROUTER_STATUS_PASSWORD": PASSWORD}
    assert RouteTable(router.url, environ=environ).read().routes_total == 2


def test_sample_records_gauges_per_chosen_hostname(router):
    m = Measurements()
    RouteTable(with_credentials(router.url), environ={}).sample(m, lambda: [APP, "gone.example.com"])
    assert m.metric("RouterEndpoints").values() == [2]
    assert m.metric("RouterRoutes").values() == [1]
    assert m.metric(f"RouterEndpoints.{APP}").values() == [2]
    assert m.metric("RouterEndpoints.gone.example.com").values() == [0]


@pytest.mark.parametrize("url_password", ["wrong", None])
def test_refused_credentials_are_a_clear_error_that_never_shows_them(router, url_password):
    url = with_credentials(router.url, password=url_password) if url_password else router.url
    table = RouteTable(url, environ={})
    with pytest.raises(EndpointError) as error:
        table.read()
    message = str(error.value)
    assert "401" in message and "check the router status user/password" in message
    assert f"{router.url}/routes" in message
    assert ("refused" if url_password else "no credentials were given") in message
    for shown in (message, repr(table), table.url):
        assert "wrong" not in shown and USER not in shown


def test_repr_and_results_never_hold_the_password(router):
    table = RouteTable(with_credentials(router.url), environ={})
    snapshot = table.read()
    for text in (repr(table), str(table), table.url, repr(table.endpoint), repr(snapshot)):
        assert PASSWORD not in text and "pa%24" not in text
    assert table.url == router.url


def test_health_needs_no_credentials(server):
    server.responder = lambda request, handler: (200 if request.path == "/health" else 401, {}, b"ok\n")
    assert RouteTable(server.url, environ={}).healthy()
    server.responder = answer(503, b"")
    assert not RouteTable(server.url, environ={}).healthy()
    assert not RouteTable("http://127.0.0.1:9", environ={}, timeout=1).healthy()


@pytest.mark.parametrize(("body", "says"), [
    (b"<html>router</html>", "did not return JSON"),
    (b"[1, 2]", "returned a JSON list, not gorouter's route table"),
    (b'{"a.example.com": {"address": "x"}}', "maps to a dict, not a list"),
    (b'{"a.example.com": [{"ttl": 120}]}', "has no 'address'"),
    (b'{"a.example.com": [{"address": "10.0.0.1:1", "ttl": "120"}]}', "'ttl' that is not a whole number"),
    (b'{"a.example.com": [{"address": "10.0.0.1:1", "tags": []}]}', "'tags' an object"),
])
def test_wrong_shapes_are_errors_that_name_the_url_and_the_problem(server, body, says):
    server.responder = answer(200, body, "application/json")
    with pytest.raises(EndpointError, match=says) as error:
        RouteTable(server.url, environ={}).read()
    assert f"{server.url}/routes" in str(error.value)


def test_a_hanging_router_is_a_timeout_naming_the_url(server):
    server.responder = hang
    started = time.monotonic()
    with pytest.raises(EndpointError, match=r"did not answer within 0\.3 s") as error:
        RouteTable(server.url, environ={}, timeout=0.3).read()
    assert time.monotonic() - started < 2.5
    assert error.value.kind == "Timeout" and server.url in str(error.value)


def test_a_redirect_is_not_followed_with_the_credentials(server):
    server.responder = lambda request, handler: (302, {"Location": "http://127.0.0.1:9/steal"}, b"")
    with pytest.raises(EndpointError, match="answered HTTP 302"):
        RouteTable(with_credentials(server.url), environ={}).read()


@pytest.mark.parametrize(("url", "kwargs", "says"), [
    ("ftp://10.0.0.1:8080", {}, "must be an http\\(s\\) URL"),
    ("http://user@10.0.0.1:8080", {}, "a user was given but no password"),
    ("http://10.0.0.1:8080", {"password": "p"}, "a password was given but no user"),
    ("http://10.0.0.1:8080", {"ca_file": "/etc/hostname"}, "plain http://"),
    ("https://10.0.0.1:8080", {"ca_file": "/no/such/ca.crt"}, "is not a readable file"),
    ("http://10.0.0.1:8080", {"timeout": 0}, "timeout must be > 0"),
    ("http://u:secret@10.0.0.1:notaport", {}, "not a valid URL"),
])
def test_bad_settings_are_clear_errors_without_secrets(url, kwargs, says):
    with pytest.raises(EndpointConfigError, match=says) as error:
        RouteTable(url, environ={}, **kwargs)
    assert "secret" not in str(error.value)


def test_the_recorded_body_parses_as_gorouter_writes_it():
    snapshot = parse_routes(ROUTES, "fixture", 0.0)
    recorded = json.loads(ROUTES)[APP][0]["private_instance_id"]
    assert recorded in {e.instance_guid for e in snapshot.routes[APP]}
    assert ROUTES.endswith(b"\n") and ROUTES.count(b"\n") == 1  # one compact line, as json.Encoder writes
