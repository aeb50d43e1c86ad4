"""--diego-pushgateway against a real Prometheus Pushgateway (Debian's prometheus-pushgateway),
started here on loopback and read back through its /metrics like Prometheus scrapes it."""

from __future__ import annotations

import shutil
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from pytest_diego.report.pushgateway import run_id
from tests.plugin.conftest import NUMBERS, results
from tests.support.ports import free_port

UNMEASURED = """
import pytest
from pytest_diego.measure import define_metric

define_metric("LoopDuration", "gauge", unit="s")

@pytest.mark.slo("LoopDuration", "max < 5s")
def test_unmeasured(measurements):
    measurements.not_measured(["LoopDuration"], "set --diego-metrics-url")
"""
Series = dict[str, dict[frozenset[tuple[str, str]], float]]


@dataclass
class Gateway:
    url: str
    auth: tuple[str, str] | None = None

    def series(self, **group: str) -> Series:
        """Every sample of the group ``job``/``run``, by name and its other labels."""
        response = requests.get(f"{self.url}/metrics", auth=self.auth, timeout=5)
        response.raise_for_status()
        found: Series = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                labels = dict(sample.labels)
                if all(labels.pop(k, None) == v for k, v in group.items()):
                    labels.pop("instance", None)  # the Pushgateway adds instance="" to pushed series
                    found.setdefault(sample.name, {})[frozenset(labels.items())] = sample.value
        return found


@contextmanager
def pushgateway(tmp_path: Path, users: dict[str, str] | None = None) -> Iterator[Gateway]:
    """A Pushgateway on 127.0.0.1 (in memory only; basic auth for ``users``), stopped by its pid."""
    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    if binary is None:
        pytest.skip("no Prometheus Pushgateway here: install Debian's prometheus-pushgateway "
                    "(apt-get install prometheus-pushgateway)")
    port = free_port()
    command = [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file=", "--log.level=warn"]
    auth = None
    if users:
        config = tmp_path / "pushgateway-web.yml"
        hashes = "".join(f"  {user}: '{_bcrypt(password)}'\n" for user, password in users.items())
        config.write_text(f"basic_auth_users:\n{hashes}")
        command.append(f"--web.config.file={config}")
        auth = next(iter(users.items()))
    log = (tmp_path / "pushgateway.log").open("w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    gateway = Gateway(f"http://127.0.0.1:{port}", auth)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the Pushgateway exited: {(tmp_path / 'pushgateway.log').read_text()}")
            try:
                requests.get(f"{gateway.url}/-/ready", auth=auth, timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the Pushgateway did not start listening within 20 s"
                time.sleep(0.05)
        yield gateway
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _bcrypt(password: str) -> str:
    """The Pushgateway's web config takes bcrypt hashes; the C library's crypt(3) makes them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            pytest.skip("no crypt module (Python >= 3.13) to make the bcrypt hash the Pushgateway's basic "
                        "auth needs")
    method = getattr(crypt, "METHOD_BLOWFISH", None)
    hashed = crypt.crypt(password, crypt.mksalt(method)) if method in crypt.methods else None
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("this C library's crypt(3) makes no bcrypt hashes, which the Pushgateway's basic "
                    "auth needs")
    return hashed


def _only(series: Series, name: str, **labels: str) -> float:
    [value] = [v for k, v in series.get(name, {}).items() if dict(k) == labels]
    return value


def test_verdicts_and_summaries_reach_a_real_pushgateway_one_group_per_run(pytester, run, tmp_path):
    pytester.makepyfile(test_numbers=NUMBERS, test_unmeasured=UNMEASURED)
    with pushgateway(tmp_path) as gateway:
        result = run("--diego-pushgateway", gateway.url)
        assert result.ret == pytest.ExitCode.TESTS_FAILED  # test_impossible: pushing changes no verdict
        first = run_id(results(pytester))
        result.stdout.fnmatch_lines(
            [f"pytest-diego: results pushed to Pushgateway {gateway.url} (job pytest_diego, run {first})"])
        pushed = gateway.series(job="pytest_diego", run=first)

        impossible = {"scenario": "test_numbers.py::test_impossible", "metric": "Op",
                      "threshold": "p(99) < 1ms", "source": "slo"}
        assert {o: _only(pushed, "diego_slo_outcome", **impossible, outcome=o)
                for o in ("passed", "failed", "not measured", "skipped")} == \
            {"passed": 0, "failed": 1, "not measured": 0, "skipped": 0}
        assert _only(pushed, "diego_slo_observed", **impossible) == pytest.approx(0.010, rel=0.01)
        easy = {"scenario": "test_numbers.py::test_easy", "metric": "Op", "source": "slo"}
        assert _only(pushed, "diego_slo_outcome", **easy, threshold="count == 100", outcome="passed") == 1
        assert _only(pushed, "diego_slo_observed", **easy, threshold="count == 100") == 100
        unmeasured = {"scenario": "test_unmeasured.py::test_unmeasured", "metric": "LoopDuration",
                      "threshold": "max < 5s", "source": "slo"}
        assert _only(pushed, "diego_slo_outcome", **unmeasured, outcome="not measured") == 1
        assert not [k for k in pushed["diego_slo_observed"] if dict(k)["metric"] == "LoopDuration"]

        op = {"scenario": "test_numbers.py::test_impossible", "metric": "Op"}
        assert _only(pushed, "diego_metric", **op, stat="p(99)", unit="seconds") == \
            pytest.approx(0.010, rel=0.01)
        assert _only(pushed, "diego_metric", **op, stat="count", unit="") == 100
        assert _only(pushed, "diego_metric", **op, stat="rate", unit="ratio") == 1
        assert _only(pushed, "diego_scenario_outcome", scenario="test_numbers.py::test_impossible",
                     outcome="failed") == 1
        assert _only(pushed, "diego_scenario_outcome", scenario="test_numbers.py::test_easy",
                     outcome="passed") == 1
        assert _only(pushed, "diego_run_interrupted") == 0
        assert _only(pushed, "push_time_seconds") >= results(pytester)["finished_at"] - 1

        # the ini twins, and a second run is a second group: the first one is still there
        pytester.makeini(f"[pytest]\ndiego_pushgateway = {gateway.url}\ndiego_pushgateway_job = nightly\n")
        assert run("-k", "easy").ret == pytest.ExitCode.OK
        second = run_id(results(pytester))
        assert second != first
        nightly = gateway.series(job="nightly", run=second)
        assert _only(nightly, "diego_slo_outcome", **easy, threshold="count == 100", outcome="passed") == 1
        scenarios = {dict(k)["scenario"] for k in nightly["diego_scenario_outcome"]}
        assert scenarios == {"test_numbers.py::test_easy"}
        assert gateway.series(job="pytest_diego", run=first) == pushed


def test_basic_auth_from_the_url_or_the_environment_is_used_and_never_printed(pytester, run, tmp_path,
                                                                                monkeypatch):
    pytester.makepyfile(test_numbers=NUMBERS)
    with pushgateway(tmp_path, {"ci": "s3cret-pw"}) as gateway:
        port = gateway.url.rsplit(":", 1)[1]
        in_url = run("-k", "easy", "--diego-pushgateway", f"http://ci:s3cret-pw@127.0.0.1:{port}")
        from_url = run_id(results(pytester))
        monkeypatch.setenv("DIEGO_PUSHGATEWAY_USER", "ci")
        monkeypatch.setenv("DIEGO_PUSHGATEWAY_PASSWORD", "s3cret-pw")
        from_env = run("-k", "easy", "--diego-pushgateway", gateway.url, "--diego-pushgateway-job", "env")
        env_run = run_id(results(pytester))
        monkeypatch.setenv("DIEGO_PUSHGATEWAY_PASSWORD", "wr0ng-pw")
        refused = run("-k", "easy", "--diego-pushgateway", gateway.url, "--diego-pushgateway-job", "refused")
        refused_run = run_id(results(pytester))

        for result in (in_url, from_env):
            assert result.ret == pytest.ExitCode.OK
            result.stdout.fnmatch_lines([f"pytest-diego: results pushed to Pushgateway {gateway.url} *"])
        assert gateway.series(job="pytest_diego", run=from_url)["diego_slo_outcome"]
        assert gateway.series(job="env", run=env_run)["diego_slo_outcome"]

        assert refused.ret == pytest.ExitCode.OK  # the push failed, the verdicts stand
        refused.stdout.fnmatch_lines([f"pytest-diego: WARNING: results not pushed: Pushgateway {gateway.url} "
                                      f"(job refused, run {refused_run}) answered HTTP 401 Unauthorized*"
                                      "check the user and password"])
        assert results(pytester)["tests"]["test_numbers.py::test_easy"]["verdicts"]
        assert not gateway.series(job="refused", run=refused_run)
        for result in (in_url, from_env, refused):
            output = result.stdout.str() + result.stderr.str()
            assert "s3cret" not in output and "wr0ng" not in output


def test_a_push_that_fails_is_a_warning_naming_the_url_and_the_verdicts_stand(pytester, run):
    pytester.makepyfile(test_numbers=NUMBERS)
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run("--diego-pushgateway", url)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([f"pytest-diego: WARNING: results not pushed: cannot reach Pushgateway {url} "
                                 "(job pytest_diego, run *): *refused*",
                                 "*Diego SLOs: 2 passed, 1 failed*"])
    doc = results(pytester)
    assert {n: t["outcome"] for n, t in doc["tests"].items()} == \
        {"test_numbers.py::test_easy": "passed", "test_numbers.py::test_impossible": "failed"}
