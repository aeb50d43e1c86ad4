"""Faults: delivered once per scenario, logged with their time, skipped when not configured."""

from __future__ import annotations

import sys

import pytest

from pytest_diego.nemesis import CommandNemesis, FaultFailed, FaultLog, FaultNotConfigured
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


def test_unconfigured_fault_skips_naming_the_ini_option(pytester, run):
    pytester.makepyfile(test_fault="""
        import pytest

        @pytest.mark.scenario("database failure")
        def test_fault(nemesis):
            nemesis.kill_bbs()
    """)
    result = run("-rs", *REAL_DIEGO)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no command to kill bbs on this Diego: set diego_kill_bbs_command in "
                                 "[[]tool.pytest.ini_options[]]*"])
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
