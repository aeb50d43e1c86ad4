"""The BBS fuzz scenario's promises are real checks: a healthy BBS keeps them all, a BBS that answers
HTTP 500 to some input or drops a DesiredLRP desired before the fuzzing fails the scenario, and in
every case the scenario removes everything it desired.

The suite runs unchanged (a subprocess ``pytest perf_suites/test_bbs_fuzz.py``) against an
embedded BBS served by this process, reached as a real Diego is (``--diego-bbs-url``), so the
faults are planted in the BBS's own request handlers: the BBS the suite talks to is the one that
misbehaves. ``DIEGO_FUZZ_SEED`` fixes the examples, so each run sends the same requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_diego.bbs import BBSClient, models
from pytest_diego.cluster.bbs import BBSConfig, BBSServer, lrps
from pytest_diego.workload import desired_lrp, task_definition

REPO = Path(__file__).resolve().parents[2]
CUSTOMER = "customer-app"  # desired before the fuzzing, in another domain, as a real Diego's apps are
FUZZ_DOMAIN = "pytest-diego-fuzz"
PROMISE = ("BBSPromiseKept", "rate == 1")


@pytest.fixture
def bbs(tmp_path: Path) -> Iterator[BBSServer]:
    """An embedded BBS with a customer's DesiredLRP and Task desired before the fuzzing."""
    server = BBSServer(BBSConfig(state_dir=tmp_path / "bbs", convergence_interval=3600.0)).start()
    try:
        with BBSClient(server.url) as client:
            client.desire_lrp(desired_lrp(CUSTOMER, domain="cf-apps", instances=0))
            client.desire_task("customer-task", "cf-tasks", task_definition())
        yield server
    finally:
        server.stop()


def run_fuzz(server: BBSServer, results: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "perf_suites/test_bbs_fuzz.py", "-p", "no:randomly", "-s",
         "--diego-bbs-url", server.url, "--diego-results", str(results)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "DIEGO_FUZZ_SEED": "20261207", "DIEGO_FUZZ_EXAMPLES": "40"})
    [test] = json.loads((results / "results.json").read_text())["tests"].values()
    return done, test


def verdicts(test: dict[str, Any]) -> dict[tuple[str, str], bool]:
    return {(v["metric"], v["expression"]): v["passed"] for v in test["verdicts"]}


def customer_lrp(server: BBSServer) -> bytes:
    with BBSClient(server.url) as client:
        return client.desired_lrp_by_process_guid(CUSTOMER).SerializeToString(deterministic=True)


def assert_nothing_left(server: BBSServer) -> None:
    with BBSClient(server.url) as client:
        assert client.desired_lrps(domain=FUZZ_DOMAIN) == []
        assert client.tasks(domain=FUZZ_DOMAIN) == []
        assert {t.task_guid for t in client.tasks()} == {"customer-task"}


def plant(server: BBSServer, path: str, fault: Callable[[Callable[[Any], Any], Any], Any]) -> None:
    """Wrap the BBS's handler for ``path``: ``fault(original, request)`` answers instead."""
    assert server.api is not None
    route = server.api.routes[path]
    original = route.handler
    route.handler = lambda request: fault(original, request)


def test_a_healthy_bbs_keeps_every_promise(bbs: BBSServer, tmp_path: Path) -> None:
    before = customer_lrp(bbs)
    done, test = run_fuzz(bbs, tmp_path / "healthy")
    assert done.returncode == 0, done.stdout[-3000:]
    assert all(verdicts(test).values()), test["verdicts"]
    promises = test["metrics"]["BBSPromiseKept"]
    assert promises["count"] >= 40 and promises["failures"] == {}
    routes = {n.split(".", 1)[1] for n in test["metrics"] if n.startswith("RequestLatency.")}
    assert {"DesireDesiredLRP", "DesireTask", "UpdateDesireLRP"} <= routes and len(routes) >= 8
    assert customer_lrp(bbs) == before
    assert_nothing_left(bbs)


def test_a_bbs_answering_500_to_some_input_fails_the_scenario(bbs: BBSServer, tmp_path: Path) -> None:
    def crash_on_checks(original: Callable[[Any], Any], request: models.DesireLRPRequest) -> Any:
        if request.desired_lrp.HasField("check_definition"):
            raise RuntimeError("planted: the BBS fails on DesiredLRPs with health checks")
        return original(request)

    plant(bbs, "/v1/desired_lrp/desire.r2", crash_on_checks)
    done, test = run_fuzz(bbs, tmp_path / "crashing")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-3000:]
    assert verdicts(test)[PROMISE] is False
    assert test["metrics"]["BBSPromiseKept"]["failures"].get("DesireDesiredLRP: HTTP 500", 0) >= 1
    assert "SLO failed: BBSPromiseKept rate == 1" in done.stdout, done.stdout[-3000:]
    assert "broken promise: DesireDesiredLRP: HTTP 500" in done.stdout
    assert_nothing_left(bbs)


def test_a_bbs_dropping_a_desired_lrp_fails_the_scenario(bbs: BBSServer, tmp_path: Path) -> None:
    assert bbs.core is not None
    core = bbs.core

    def drop_the_customer(original: Callable[[Any], Any], request: models.UpdateDesiredLRPRequest) -> Any:
        if CUSTOMER in core.state.desired:
            lrps.remove(core, CUSTOMER)  # planted: an update loses someone else's DesiredLRP
        return original(request)

    plant(bbs, "/v1/desired_lrp/update", drop_the_customer)
    done, test = run_fuzz(bbs, tmp_path / "dropping")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-3000:]
    assert verdicts(test)[PROMISE] is False
    failures = test["metrics"]["BBSPromiseKept"]["failures"]
    assert failures == {"a DesiredLRP desired before the fuzzing is gone": 1}, failures
    assert f"broken promise: a DesiredLRP desired before the fuzzing is gone: {CUSTOMER}" in done.stdout
    assert_nothing_left(bbs)
