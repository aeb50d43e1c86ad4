"""Command-line and ini options, and their validation into one ``DiegoSettings``.

Every option can also be set in ``[tool.pytest.ini_options]`` under its ini name
(``--diego-cells`` is ``diego_cells``); the command line wins. Bad values are
``pytest.UsageError``s that name the option and say what to write instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_diego.pytest_support.overrides import SLOOverrides, load_overrides
from pytest_diego.pytest_support.target import EMBEDDED_ONLY, ENV, Target, resolve_target
from pytest_diego.pytest_support.values import duration, fraction, positive_float
from pytest_diego.report.pushgateway import Pushgateway, PushgatewayConfigError
from pytest_diego.workload.commands import Work

# The commands that inject faults on a real deployment (ini only). ``{cell_id}`` is replaced.
FAULT_COMMANDS = {
    "kill_cell": "command that stops one cell's rep ({cell_id} is replaced)",
    "restart_cell": "command that starts a stopped cell's rep again ({cell_id} is replaced)",
    "freeze_cell": "command that makes one cell stop answering, dropping packets ({cell_id} is replaced)",
    "thaw_cell": "command that undoes the freeze_cell command ({cell_id} is replaced)",
    "kill_bbs": "command that stops the BBS (the database node's API)",
    "restart_bbs": "command that starts the BBS again",
    "kill_database": "command that hard-stops the SQL server under the BBS (the database VM)",
    "restart_database": "command that starts the SQL server under the BBS again",
    "wipe_store": "command that wipes the BBS store (destroys every Task and LRP record)",
    "pause": "command that freezes a component ({target} is replaced, e.g. bbs or a cell id)",
    "resume": "command that unfreezes a component paused by the pause command",
}


def add_options(parser: pytest.Parser) -> None:
    """Register every ``--diego-*`` option and its ini twin."""
    group = parser.getgroup("diego", "Diego performance testing (pytest-diego)")

    def add(name: str, help: str, **kwargs: Any) -> None:
        group.addoption(f"--{name}", dest=name.replace("-", "_"), default=None, help=help, **kwargs)
        ini_type: Literal["string", "linelist", "bool"] = "string"
        if kwargs.get("action") == "append":
            ini_type = "linelist"
        elif kwargs.get("action") == "store_true":
            ini_type = "bool"
        parser.addini(name.replace("-", "_"), help, type=ini_type, default=None)

    add("diego-cells", "embedded cluster: number of cells (default 3)", metavar="N")
    add("diego-db", "embedded cluster: BBS store, 'sqlite' (default), 'postgresql' (a PostgreSQL server the "
        "cluster runs itself: kill_database works) or a postgresql:// DSN", metavar="DB")
    add("diego-time-scale", "embedded cluster: multiply Diego's intervals and TTLs by F "
        "(0.1 turns the 30 s convergence into 3 s; default 1)", metavar="F")
    add("diego-tls", "embedded cluster: serve the BBS over mutual TLS", action="store_true")
    add("diego-zones", "embedded cluster: availability zones the cells are spread over, round-robin "
        "(default 3)", metavar="N")
    add("diego-container-model", "embedded cluster: seconds a cell takes to create a container: 0, "
        "fixed:S, uniform:A,B or lognormal:MEDIAN,SIGMA, in real seconds; scaled:SPEC follows the time "
        "scale (default 0)", metavar="SPEC")
    add("diego-bbs-url", "real Diego: BBS API URL (or env BBS_URL), e.g. https://bbs.service.cf.internal:8889",
        metavar="URL")
    add("diego-ca", "real Diego: CA certificate file for the BBS (or env CA_CERT_FILE)", metavar="FILE")
    add("diego-cert", "real Diego: client certificate file (or env CLIENT_CERT_FILE)", metavar="FILE")
    add("diego-key", "real Diego: client key file (or env CLIENT_KEY_FILE)", metavar="FILE")
    add("diego-skip-cert-verify",
        "real Diego: do not verify the BBS certificate (or env SKIP_CERT_VERIFY=true)", action="store_true")
    add("diego-router-url", "real Diego: gorouter URL used for route checks", metavar="URL")
    add("diego-router-status-url", "real Diego: gorouter's status listener, serving GET /routes, for "
        "route counts (http://USER:PASSWORD@10.0.16.4:8080, or DIEGO_ROUTER_STATUS_USER/PASSWORD)",
        metavar="URL")
    add("diego-apps-domain", "real Diego: apps domain that routes are created under", metavar="DOMAIN")
    add("diego-metrics-url", "real Diego: a metrics agent (https://VM:14726/metrics) or other Prometheus "
        "text endpoint to sample Diego's metrics from, NAME=URL (repeatable)", action="append",
        metavar="NAME=URL")
    add("diego-metrics-ca", "real Diego: CA certificate of the metrics agents (and Prometheus)",
        metavar="FILE")
    add("diego-metrics-cert", "real Diego: client certificate for the metrics agents' mutual TLS",
        metavar="FILE")
    add("diego-metrics-key", "real Diego: client key for the metrics agents' mutual TLS", metavar="FILE")
    add("diego-metrics-skip-verify", "real Diego: do not verify the metrics endpoints' certificates",
        action="store_true")
    add("diego-prometheus-url", "real Diego: a Prometheus server that scrapes Diego's metrics (query API), "
        "e.g. https://prometheus:9090", metavar="URL")
    add("diego-prometheus-matchers", "real Diego: label matchers for the Prometheus queries, e.g. "
        "'deployment=\"cf\"'", metavar="MATCHERS")
    add("diego-locket-address", "real Diego: Locket's host:port (or env LOCKET_API_LOCATION), for "
        "--diego-hollow-cells", metavar="HOST:PORT")
    add("diego-hollow-cells", "real Diego: add N hollow cells from this machine for the run (they join "
        "through Locket and the BBS, and leave at the end)", metavar="N")
    add("diego-hollow-address", "real Diego: the IP of this machine the hollow cells listen on, reachable "
        "from the Diego (default 127.0.0.1)", metavar="IP")
    add("diego-rep-ca", "real Diego: the rep CA that issues the hollow cells' certificates", metavar="FILE")
    add("diego-rep-ca-key", "real Diego: that CA's key", metavar="FILE")
    add("diego-interval", "real Diego: an interval it runs with, when not Diego's default, NAME=DURATION "
        "(repeatable), e.g. convergence_interval=20s; bounds derived from it say so", action="append",
        metavar="NAME=DURATION")
    add("diego-rootfs", "rootfs of every Task and LRP the scenarios desire (default preloaded:cflinuxfs4)",
        metavar="ROOTFS")
    add("diego-lrp-command", "command every app instance runs: an HTTP server on $PORT answering GET / "
        "with JSON carrying its instance_guid (default: a Perl one-liner that needs only cflinuxfs4)",
        metavar="COMMAND")
    add("diego-crash-command", "command the stress mix's crashing apps run (default: exit at a random "
        "time between $MIN_SECONDS_TIL_CRASH and $MAX_SECONDS_TIL_CRASH)", metavar="COMMAND")
    add("diego-task-command", "command every Task runs, {task_guid} replaced (default: fezzik's "
        "'echo {task_guid} > /tmp/output')", metavar="COMMAND")
    add("diego-scale", "multiply every workload size by F (default 1)", metavar="F")
    add("diego-results", "directory for results.json (default diego-results)", metavar="DIR")
    add("diego-pushgateway", "push every scenario's SLO verdicts and metric summaries to this Prometheus "
        "Pushgateway at the end of the run, e.g. http://pushgateway:9091 (basic auth in the URL or in "
        "DIEGO_PUSHGATEWAY_USER/PASSWORD)", metavar="URL")
    add("diego-pushgateway-job", "the Pushgateway job the results are grouped under, with the run's start "
        "as 'run' (default pytest_diego)", metavar="NAME")
    add("diego-slo", "override an SLO: 'Metric=expr[;expr]' or 'test_name::Metric=expr' (repeatable)",
        action="append", metavar="OVERRIDE")
    add("diego-slo-file", "SLO overrides file: .toml, .json or .ini mapping METRIC or TEST::METRIC to "
        "expressions", metavar="FILE")
    add("diego-baseline", "a previous results.json: fail when a metric got worse than it", metavar="FILE")
    add("diego-baseline-tolerance", "how much worse than the baseline is tolerated (default 0.10 = 10%%)",
        metavar="FRACTION")
    add("diego-sample-interval", "sample Diego's metrics endpoints (loop durations, LRP/Task gauges) "
        "this often while each scenario that uses Diego runs, e.g. 1s (default off: for scenarios "
        "that do not sample themselves)", metavar="DURATION")
    add("diego-strict", "fail a scenario whose SLOs could not all be measured on this target (default: "
        "pass it with a warning, the unmeasured SLOs shown as not measured)", action="store_true")
    add("diego-barrier-timeout", "xdist: how long a worker waits for its partners at a scenario's start "
        "and end (default 10m)", metavar="DURATION")
    for kind, help in FAULT_COMMANDS.items():
        parser.addini(f"diego_{kind}_command", f"real Diego: {help}", type="string", default=None)


@dataclass(frozen=True)
class DiegoSettings:
    """Every validated option of one run."""

    target: Target
    scale: float = 1.0
    results_dir: Path = Path("diego-results")
    overrides: SLOOverrides = field(default_factory=SLOOverrides)
    baseline: Path | None = None
    baseline_tolerance: float = 0.10
    barrier_timeout: float = 600.0
    sample_interval: float = 0.0
    strict: bool = False
    work: Work = field(default_factory=Work)
    pushgateway: Pushgateway | None = None


def raw(config: pytest.Config, name: str) -> Any:
    """The option's command-line value, else its ini value, else None."""
    value = config.getoption(name.replace("-", "_"), default=None)
    if value is None or value is False or value == []:
        ini = config.getini(name.replace("-", "_"))
        return ini if ini not in ("", [], None) else None
    return value


def target_option(config: pytest.Config, name: str, environ: dict[str, str]) -> Any:
    """``raw``, except that with a real Diego's BBS URL the embedded cluster's ini values (a
    suite's defaults, e.g. ``diego_cells`` in perf_suites/pytest.ini) are ignored: only the
    command line can conflict with the BBS URL."""
    if name in EMBEDDED_ONLY and (raw(config, "diego-bbs-url") or environ.get(ENV["diego-bbs-url"])):
        value = config.getoption(name.replace("-", "_"), default=None)
        return None if value is False else value
    return raw(config, name)


def read_settings(config: pytest.Config, environ: dict[str, str]) -> DiegoSettings:
    """Read and validate every option; raise ``pytest.UsageError`` on the first bad one."""
    commands = {kind: config.getini(f"diego_{kind}_command") or None for kind in FAULT_COMMANDS}
    target = resolve_target(lambda name: target_option(config, name, environ), commands, environ)
    baseline = raw(config, "diego-baseline")
    if baseline is not None and not Path(baseline).is_file():
        raise pytest.UsageError(f"--diego-baseline {baseline}: no such file; pass the results.json "
                                "of an earlier run (e.g. diego-results/results.json)")
    return DiegoSettings(
        target=target,
        scale=positive_float(raw(config, "diego-scale"), "--diego-scale", 1.0, "e.g. --diego-scale 0.5"),
        results_dir=Path(raw(config, "diego-results") or "diego-results"),
        overrides=load_overrides(raw(config, "diego-slo") or [], raw(config, "diego-slo-file")),
        baseline=Path(baseline) if baseline else None,
        baseline_tolerance=fraction(raw(config, "diego-baseline-tolerance")),
        barrier_timeout=duration(raw(config, "diego-barrier-timeout"), "--diego-barrier-timeout", 600.0),
        sample_interval=_interval(raw(config, "diego-sample-interval")),
        strict=bool(raw(config, "diego-strict")),
        work=_work(config),
        pushgateway=_pushgateway(config, environ),
    )


def _work(config: pytest.Config) -> Work:
    """The rootfs and commands the scenarios' work runs with; each option replaces a default."""
    given = {field: raw(config, f"diego-{option}") for field, option in (
        ("rootfs", "rootfs"), ("lrp_command", "lrp-command"), ("crash_command", "crash-command"),
        ("task_command", "task-command"))}
    return Work(**{field: str(value) for field, value in given.items() if value})


def _pushgateway(config: pytest.Config, environ: dict[str, str]) -> Pushgateway | None:
    """The Pushgateway to push results to, if one is given (a job alone, e.g. in an ini file
    while the URL comes from CI's command line, pushes nowhere)."""
    url = raw(config, "diego-pushgateway")
    if url is None:
        return None
    try:
        return Pushgateway.from_url(str(url), raw(config, "diego-pushgateway-job"), environ)
    except PushgatewayConfigError as e:
        raise pytest.UsageError(str(e)) from None


def _interval(value: Any) -> float:
    if value is None or str(value).strip() in ("0", "0s", "off"):
        return 0.0
    return duration(value, "--diego-sample-interval", 0.0)
