"""Options: bad values are usage errors naming the option; the target comes from options or env."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import NUMBERS

CFDOT_ENV = ("BBS_URL", "CA_CERT_FILE", "CLIENT_CERT_FILE", "CLIENT_KEY_FILE", "SKIP_CERT_VERIFY")


@pytest.fixture(autouse=True)
def no_cfdot_env(monkeypatch):
    for name in CFDOT_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("args", "message"), [
    (["--diego-cells", "0"], "--diego-cells '0': must be a whole number of at least 1"),
    (["--diego-cells", "many"], "--diego-cells 'many': must be a whole number"),
    (["--diego-scale", "-1"], "--diego-scale '-1': must be a number greater than 0"),
    (["--diego-scale", "nan"], "--diego-scale 'nan': must be a number greater than 0"),
    (["--diego-time-scale", "fast"], "--diego-time-scale 'fast': must be a number greater than 0"),
    (["--diego-db", "mysql://x"], "--diego-db 'mysql://x': use 'sqlite'*postgresql://*"),
    (["--diego-slo", "nonsense"], "--diego-slo 'nonsense': write METRIC=EXPR*"),
    (["--diego-slo", "Op=p(101) < 1s"],
     "--diego-slo/--diego-slo-file: bad SLO for Op: percentile 101 is outside 0..100*"),
    (["--diego-slo-file", "missing.json"], "--diego-slo-file missing.json: no such file"),
    (["--diego-baseline", "missing.json"], "--diego-baseline missing.json: no such file*"),
    (["--diego-baseline-tolerance", "lots"], "--diego-baseline-tolerance 'lots': must be a fraction*"),
    (["--diego-sample-interval", "often"], "--diego-sample-interval 'often': must be a duration*"),
    (["--diego-barrier-timeout", "0"], "--diego-barrier-timeout '0': must be a duration greater than 0*"),
    (["--diego-bbs-url", "bbs:8889"], "--diego-bbs-url / BBS_URL 'bbs:8889': must be an http(s) URL*"),
    (["--diego-bbs-url", "http://127.0.0.1:1", "--diego-metrics-url", "bbs"],
     "--diego-metrics-url 'bbs': write NAME=URL*"),
    (["--diego-bbs-url", "http://127.0.0.1:1", "--diego-cells", "4"],
     "--diego-cells configures the embedded cluster, but the BBS at http://127.0.0.1:1 was given*"),
    (["--diego-pushgateway", "pushgateway:9091"],
     "--diego-pushgateway 'pushgateway:9091': not a valid http(s) URL with a host; write it like "
     "http://pushgateway:9091"),
    (["--diego-pushgateway", "http://ci@127.0.0.1:9091"], "--diego-pushgateway http://127.0.0.1:9091: "
     "basic auth needs a user and a password; give both in the URL * or in DIEGO_PUSHGATEWAY_USER/*"),
    (["--diego-pushgateway", "http://127.0.0.1:9091", "--diego-pushgateway-job", " "],
     "--diego-pushgateway-job: give a job name, e.g. pytest_diego"),
])
def test_bad_option_values_are_usage_errors(pytester, run, args, message):
    pytester.makepyfile(test_numbers=NUMBERS)
    result = run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}*"])


def test_bad_ini_value_is_a_usage_error_too(pytester, run):
    pytester.makepyfile(test_numbers=NUMBERS)
    pytester.makeini("[pytest]\ndiego_cells = -3\n")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --diego-cells '-3': must be a whole number of at least 1*"])


def test_bad_slo_marker_is_a_usage_error_naming_the_test(pytester, run):
    pytester.makepyfile(test_bad="""
        import pytest
        from pytest_diego.measure import define_metric

        define_metric("Op", "trend")

        @pytest.mark.slo("Op", "p99 < 1s")
        def test_bad_slo(measurements):
            pass
    """)
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: test_bad.py::test_bad_slo: bad SLO for Op: "
                                 "unexpected '99' at column 2; expected '(' after p*"])


def test_https_bbs_without_ca_is_a_clear_error(pytester, run, monkeypatch):
    pytester.makepyfile(test_numbers=NUMBERS)
    monkeypatch.setenv("BBS_URL", "https://bbs.service.cf.internal:8889")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: the BBS at https://bbs.service.cf.internal:8889 uses TLS but no CA certificate was given: "
        "set --diego-ca FILE (or CA_CERT_FILE)*"])


def test_https_bbs_without_client_certificate_is_a_clear_error(pytester, run):
    pytester.makepyfile(test_numbers=NUMBERS)
    pytester.path.joinpath("ca.pem").write_text("not checked here")
    result = run("--diego-bbs-url", "https://10.0.0.5:8889", "--diego-ca", "ca.pem")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: the BBS at https://10.0.0.5:8889 requires a client certificate (mutual TLS): "
        "set --diego-cert FILE and --diego-key FILE (or CLIENT_CERT_FILE and CLIENT_KEY_FILE)*"])


def test_missing_certificate_file_is_named(pytester, run, monkeypatch):
    pytester.makepyfile(test_numbers=NUMBERS)
    pytester.path.joinpath("ca.pem").write_text("x")
    pytester.path.joinpath("client.key").write_text("x")
    monkeypatch.setenv("BBS_URL", "https://10.0.0.5:8889")
    monkeypatch.setenv("CA_CERT_FILE", "ca.pem")
    monkeypatch.setenv("CLIENT_CERT_FILE", "nowhere.crt")
    monkeypatch.setenv("CLIENT_KEY_FILE", "client.key")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --diego-cert nowhere.crt: no such file "
                                 "(env CLIENT_CERT_FILE is read too)"])


def test_cfdot_environment_selects_the_real_diego(pytester, run, monkeypatch):
    for name in ("ca.pem", "client.crt", "client.key"):
        pytester.path.joinpath(name).write_text("x")
    monkeypatch.setenv("BBS_URL", "https://10.0.0.5:8889")
    monkeypatch.setenv("CA_CERT_FILE", "ca.pem")
    monkeypatch.setenv("CLIENT_CERT_FILE", "client.crt")
    monkeypatch.setenv("CLIENT_KEY_FILE", "client.key")
    pytester.makepyfile(test_target="""
        def test_target(diego):
            assert diego.kind == "external"
            assert diego.bbs_url == "https://10.0.0.5:8889"
            assert diego.target.cert_file == "client.crt"
    """)
    assert run().ret == 0


def test_skip_cert_verify_from_env_allows_no_ca(pytester, run, monkeypatch):
    for name in ("client.crt", "client.key"):
        pytester.path.joinpath(name).write_text("x")
    monkeypatch.setenv("SKIP_CERT_VERIFY", "true")
    pytester.makepyfile(test_target="""
        def test_target(diego):
            assert diego.target.skip_cert_verify
    """)
    result = run("--diego-bbs-url", "https://10.0.0.5:8889", "--diego-cert", "client.crt",
                 "--diego-key", "client.key")
    assert result.ret == 0


def test_unconfigured_route_check_skips_naming_the_option(pytester, run):
    pytester.makepyfile(test_routes="""
        def test_routes(diego):
            diego.router_url
    """)
    result = run("--diego-bbs-url", "http://127.0.0.1:1", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*this test checks routes: set --diego-router-url*"])


def test_markers_are_documented_and_strict_clean(pytester, run):
    result = run("--markers")
    result.stdout.fnmatch_lines([
        "@pytest.mark.slo(metric, *expressions): judge this scenario on metric*",
        "@pytest.mark.scenario(name, size=None): a Diego load scenario*",
        "@pytest.mark.soak(duration): a long-running scenario*",
    ])
    pytester.makepyfile(test_marks="""
        import pytest
        from pytest_diego.measure import define_metric

        define_metric("Op", "rate")

        @pytest.mark.soak("2s")
        @pytest.mark.scenario("burst", size=3)
        @pytest.mark.slo("Op", "count >= 0")
        def test_marked(workload, measurements):
            assert workload.duration == 2.0 and workload.size == 3 and workload.name == "burst"
            measurements.rate("Op").add(0.0)
    """)
    assert run("--strict-markers").ret == 0


def test_fixtures_are_documented(pytester, run):
    pytester.makepyfile(test_numbers=NUMBERS)
    result = run("--fixtures")
    for name, words in [("diego ?session scope?", "The Diego under test"),
                        ("measurements", "What this test recorded"),
                        ("bbs", "A BBSClient for the target"),
                        ("workload", "This worker's shard of the scenario's load"),
                        ("nemesis", "Faults: kill_cell(id)")]:
        result.stdout.fnmatch_lines([f"{name} -- *", f"    {words}*"])


def test_options_are_in_help(pytester, run):
    result = run("--help")
    result.stdout.fnmatch_lines(["Diego performance testing (pytest-diego):", "*--diego-cells=N*",
                                 "*--diego-bbs-url=URL*BBS_URL*", "*--diego-pushgateway=URL*",
                                 "*--diego-pushgateway-job=NAME*", "*diego_kill_cell_command*"])
