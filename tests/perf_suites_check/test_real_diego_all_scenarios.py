"""Every scenario of the main job (six tests), run as against a real Diego, gives a verdict on
every SLO from measured values.

The "real Diego" is an embedded cluster started with ``cluster up --detach`` (three cells in three
zones, its own PostgreSQL server under the BBS) and reached only through the real-Diego options:
the BBS URL, gorouter and its status listener, the metrics agents, the target's intervals, and
every fault as an operator configures it — a ``diego_*_command`` shell command, here
``python -m pytest_diego cluster fault ...``, which has the cluster's launcher deliver it with
real signals. Nothing of the embedded cluster is reached any other way, so this is the run an
operator gets against a BOSH deployment with the README's ``pytest.ini``.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from pytest_diego.cluster import EmbeddedCluster, control
from tests.perf_suites_check.conftest import interval_options

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = {"test_bbs_fuzz.py::test_bbs_fuzz", "test_burst.py::test_fast_burst",
             "test_cell_failure.py::test_cell_failure", "test_database_failure.py::test_database_node_killed",
             "test_database_failure.py::test_database_node_wiped",
             "test_fill_capacity.py::test_fill_capacity_then_watch"}


def fault_options(state_dir: Path) -> list[str]:
    """Every ``diego_*_command`` as ``-o`` ini overrides: the cluster's launcher delivers each,
    the nemesis filling in ``{cell_id}`` or ``{target}``."""
    cli = f"{shlex.quote(sys.executable)} -m pytest_diego cluster fault"
    where = f"--state-dir {shlex.quote(str(state_dir))}"
    options = []
    for kind in control.FAULTS:
        placeholder = "" if kind in control.UNTARGETED_FAULTS else (
            " {cell_id}" if kind.endswith("_cell") else " {target}")
        options += ["-o", f"diego_{kind}_command={cli} {kind}{placeholder} {where}"]
    return options


def test_every_scenario_gives_a_measured_verdict_on_every_slo(cluster, tmp_path):
    state = cluster("real", "--cells", "3", "--db", "postgresql", "--container-model", "lognormal:2,0.4")
    state_dir, results = tmp_path / "real", tmp_path / "results"
    args = ["--diego-bbs-url", state["bbs_url"], "--diego-router-url", state["router_url"],
            "--diego-apps-domain", "apps.pytest-diego.test",
            "--diego-router-status-url", EmbeddedCluster.attach(state_dir).router_status_url,
            "--diego-scale", "0.25", "--soak-duration", "10s", "--diego-results", str(results)]
    for name in ("bbs", "auctioneer", "route_emitter"):
        args += ["--diego-metrics-url", f"{name}={state['components'][name]['metrics_url']}"]
    for cell in state["cells"]:
        args += ["--diego-metrics-url", f"{cell['cell_id']}={cell['metrics_url']}"]
    args += interval_options()
    done = subprocess.run([sys.executable, "-m", "pytest", "perf_suites", "-p", "no:cacheprovider", "-p",
                           "no:randomly", *args, *fault_options(state_dir)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    output = (done.stdout + done.stderr)[-6000:]
    assert done.returncode in (0, 1), output  # a verdict, not a usage error or a crash
    tests = json.loads((results / "results.json").read_text())["tests"]
    assert {nodeid.split("/")[-1] for nodeid in tests} == SCENARIOS, output

    for nodeid, test in tests.items():
        assert test["outcome"] in ("passed", "failed"), f"{nodeid}: {test['outcome']}\n{output}"
        unjudged = [f"{v['metric']} {v['expression']}: {v['outcome']} {v.get('detail', '')}"
                    for v in test["verdicts"] if v["outcome"] not in ("passed", "failed")]
        assert not unjudged, f"{nodeid}: {unjudged}\n{output}"
        assert test["verdicts"], nodeid

    fill = {v["metric"]: v for v in tests["test_fill_capacity.py::test_fill_capacity_then_watch"]
            ["verdicts"]}
    assert fill["RepBulkSyncDuration"]["samples"] >= 1  # loop durations from the metrics agents
    assert fill["ConvergenceLRPDuration"]["note"] == "0.5 × (convergence interval 3s)"  # the target's

    faults = {nodeid.split("::")[-1]: [(f["kind"], f["ok"]) for f in test["faults"]]
              for nodeid, test in tests.items()}
    assert faults["test_cell_failure"][:2] == [("kill_cell", True), ("kill_cell", True)], faults
    assert ("restart_cell", True) in faults["test_cell_failure"]
    assert faults["test_database_node_killed"] == [("kill_bbs", True), ("restart_bbs", True)]
    assert faults["test_database_node_wiped"] == [("kill_bbs", True), ("wipe_store", True),
                                                  ("restart_bbs", True)]
