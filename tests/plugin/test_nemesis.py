"""Faults: delivered once per scenario, logged with their time, skipped when not configured."""

from __future__ import annotations

import sys

import pytest

from pytest_diego.nemesis import CommandNemesis, FaultFailed, FaultLog, FaultNotConfigured, LinkNemesis
from tests.plugin.conftest import check_results_schema, results

REAL_DIEGO = ("--diego-bbs-url", "http://127.0.0.1:9")  # never contacted by these scenarios


def test_configured_command_runs_once_per_scenario_under_xdist(pytester, run):
    pytester.makeini("[pytest]\ndiego_kill_cell_command = echo {cell_id} >> faults.log\n")
    pytester.makepyfile(test_fault="""
        import pytest

        @pytest.mark.scenario("cell failure")
        def test_fault(nemesis):
            nemesis.kill_cell("cell-3")
    """)
    result = run("-n", "2", *REAL_DIEGO)
    result.assert_outcomes(passed=2)
    assert pytester.path.joinpath("faults.log").read_text().split() == ["cell-3"]
    doc = results(pytester)
    check_results_schema(doc)
    [fault] = doc["tests"]["test_fault.py::test_fault"]["faults"]
    assert (fault["kind"], fault["target"], fault["ok"]) == ("kill_cell", "cell-3", True)
    assert doc["started_at"] <= fault["t"] <= doc["finished_at"]


@pytest.mark.parametrize("component", ["bbs", "database"])
def test_unconfigured_fault_skips_naming_the_ini_option(pytester, run, component):
    pytester.makepyfile(test_fault=f"""
        import pytest

        @pytest.mark.scenario("database failure")
        def test_fault(nemesis):
            nemesis.kill_{component}()
    """)
    result = run("-rs", *REAL_DIEGO)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"*no command to kill {component} on this Diego: "
                                 f"set diego_kill_{component}_command in [[]tool.pytest.ini_options[]]*"])
    assert results(pytester)["tests"]["test_fault.py::test_fault"]["outcome"] == "skipped"


def test_failing_command_fails_the_scenario_and_is_logged(pytester, run):
    pytester.makeini("[pytest]\ndiego_wipe_store_command = echo refusing >&2; exit 3\n")
    pytester.makepyfile(test_fault="""
        import pytest

        @pytest.mark.scenario("wipe")
        def test_fault(nemesis):
            nemesis.wipe_store()
    """)
    result = run(*REAL_DIEGO)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*FaultFailed: diego_wipe_store_command exited 3: echo refusing*",
                                 "*refusing*"])
    [fault] = results(pytester)["tests"]["test_fault.py::test_fault"]["faults"]
    assert (fault["kind"], fault["ok"]) == ("wipe_store", False)


def _cells() -> list[str]:
    return [f"cell-{i}" for i in range(10)]


def test_kill_cells_picks_the_same_cells_on_every_shard_and_only_the_leader_acts(tmp_path):
    log = tmp_path / "log"
    script = "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + ' ')"
    command = f'{sys.executable} -c "{script}" {log} {{cell_id}}'
    leader = CommandNemesis({"kill_cell": command}, _cells, FaultLog(), leader=True, seed="scenario")
    partner = CommandNemesis({"kill_cell": command}, _cells, FaultLog(), leader=False, seed="scenario")
    chosen = leader.kill_cells(fraction=0.3)
    assert partner.kill_cells(fraction=0.3) == chosen
    assert len(chosen) == 3 and set(chosen) <= set(_cells())
    assert sorted(log.read_text().split()) == chosen
    assert [e.target for e in leader.log.events] == chosen and partner.log.events == []
    assert leader.kill_cells(count=1)[0] in _cells()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "exactly one of fraction= or count="),
    ({"fraction": 0}, "must be in"),
    ({"count": 11}, "the cluster has 10 cells"),
])
def test_kill_cells_rejects_bad_amounts(kwargs, message):
    nemesis = CommandNemesis({"kill_cell": "true"}, _cells)
    with pytest.raises(ValueError, match=message):
        nemesis.kill_cells(**kwargs)


def test_command_nemesis_names_the_missing_option():
    with pytest.raises(FaultNotConfigured, match="set diego_restart_cell_command"):
        CommandNemesis({}, _cells).restart_cell("cell-1")


def test_command_failure_is_an_error_with_its_output():
    nemesis = CommandNemesis({"pause": "echo cannot pause {target} >&2; exit 1"}, _cells)
    with pytest.raises(FaultFailed, match="cannot pause bbs"):
        nemesis.pause("bbs")
    assert nemesis.log.events[0].ok is False


def test_new_fault_commands_run_once_per_scenario_under_xdist(pytester, run):
    log = "echo {kind}:{target} >> faults.log"
    commands = {"freeze_cell": "cell-3", "thaw_cell": "cell-3", "kill_database": "database",
                "restart_database": "database"}
    pytester.makeini("[pytest]\n" + "".join(
        f"diego_{kind}_command = {log.format(kind=kind, target='{cell_id}')}\n" for kind in commands))
    pytester.makepyfile(test_fault="""
        import pytest

        @pytest.mark.scenario("frozen cell, database VM lost")
        def test_fault(nemesis):
            nemesis.freeze_cell("cell-3")
            nemesis.kill_database()
            nemesis.restart_database()
            nemesis.thaw_cell("cell-3")
    """)
    result = run("-n", "2", *REAL_DIEGO)
    result.assert_outcomes(passed=2)
    assert pytester.path.joinpath("faults.log").read_text().split() == [
        "freeze_cell:cell-3", "kill_database:database", "restart_database:database", "thaw_cell:cell-3"]
    faults = results(pytester)["tests"]["test_fault.py::test_fault"]["faults"]
    assert [(f["kind"], f["target"], f["ok"]) for f in faults] == [
        ("freeze_cell", "cell-3", True), ("kill_database", "database", True),
        ("restart_database", "database", True), ("thaw_cell", "cell-3", True)]


@pytest.mark.parametrize(("fault", "option"), [
    (lambda n: n.freeze_cell("cell-1"), "diego_freeze_cell_command"),
    (lambda n: n.thaw_cell("cell-1"), "diego_thaw_cell_command"),
    (lambda n: n.kill_database(), "diego_kill_database_command"),
    (lambda n: n.restart_database(), "diego_restart_database_command"),
])
def test_command_nemesis_names_the_option_of_each_new_fault(fault, option):
    with pytest.raises(FaultNotConfigured, match=f"set {option} in"):
        fault(CommandNemesis({}, _cells))


def test_link_nemesis_delivers_database_and_freeze_faults_through_the_owner():
    delivered: list[tuple[str, str]] = []
    nemesis = LinkNemesis(_cells, lambda kind, target: delivered.append((kind, target)) or "",
                          store="postgresql")
    nemesis.freeze_cell("cell-2")
    nemesis.kill_database()
    nemesis.restart_database()
    nemesis.thaw_cell("cell-2")
    assert delivered == [("freeze_cell", "cell-2"), ("kill_database", "database"),
                         ("restart_database", "database"), ("thaw_cell", "cell-2")]
    assert [e.kind for e in nemesis.log.events] == [kind for kind, _ in delivered]


@pytest.mark.parametrize(("store", "what"), [
    ("sqlite", "SQLite, a file inside the BBS"),
    ("sqlite:////tmp/bbs.sqlite3", "SQLite, a file inside the BBS"),
    ("postgresql://bbs:secret@10.0.0.5:5432/diego", "a PostgreSQL server this run does not run"),
])
def test_link_nemesis_refuses_database_faults_without_the_clusters_own_postgres(store, what):
    delivered: list[str] = []
    nemesis = LinkNemesis(_cells, lambda kind, target: delivered.append(kind) or "", store=store)
    refusal = f"BBS store is {what}; set --diego-db postgresql"
    for fault in (nemesis.kill_database, nemesis.restart_database):
        with pytest.raises(FaultNotConfigured, match=refusal) as caught:
            fault()
        assert "secret" not in str(caught.value)
    nemesis.kill_cell("cell-1")  # other faults are delivered as before
    assert delivered == ["kill_cell"]


def test_embedded_sqlite_cluster_skips_kill_database_naming_diego_db(pytester, run):
    pytester.makepyfile(test_fault="""
        import pytest

        @pytest.mark.scenario("database failure")
        def test_fault(nemesis):
            nemesis.kill_database()
    """)
    result = run("-rs", "--diego-cells", "1", "--diego-time-scale", "0.1")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*cannot kill database: the embedded cluster's BBS store is SQLite*"
                                 "set --diego-db postgresql*"])


EMBEDDED_DATABASE_FAULTS = """
import time
import pytest
from pytest_diego.bbs.errors import BBSError
from pytest_diego.workload import task_definition

@pytest.mark.scenario("database VM lost, cell frozen")
def test_database(bbs, nemesis, workload, diego):
    nemesis.freeze_cell("cell-0")
    nemesis.kill_database()
    if workload.leader:
        with pytest.raises(BBSError, match="UnknownError"):
            bbs.desire_task("during", "db", task_definition())
    nemesis.restart_database()
    nemesis.thaw_cell("cell-0")
    if workload.leader:
        deadline = time.monotonic() + 10
        while True:
            try:
                bbs.desire_task("after", "db", task_definition())
                break
            except BBSError:
                assert time.monotonic() < deadline, "the BBS did not serve after the database's restart"
                time.sleep(0.2)
"""


def test_embedded_database_and_freeze_faults_under_xdist(pytester, run):
    pytester.makepyfile(test_database=EMBEDDED_DATABASE_FAULTS)
    result = run("-n", "2", "--diego-db", "postgresql", "--diego-cells", "1", "--diego-time-scale", "0.1")
    result.assert_outcomes(passed=2)
    doc = results(pytester)
    assert doc["environment"]["target"]["db"] == "postgresql"
    faults = doc["tests"]["test_database.py::test_database"]["faults"]
    assert [(f["kind"], f["target"], f["ok"]) for f in faults] == [
        ("freeze_cell", "cell-0", True), ("kill_database", "database", True),
        ("restart_database", "database", True), ("thaw_cell", "cell-0", True)]
