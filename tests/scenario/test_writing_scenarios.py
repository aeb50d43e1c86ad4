"""The documented scenario example, exactly as written, runs and passes on an embedded cluster."""

from __future__ import annotations

from pathlib import Path

from tests.plugin.conftest import results

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-scenarios.md"


def test_the_documented_scenario_runs_as_written(pytester, run):
    code = DOC.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    assert "def test_scale_up(" in code
    pytester.makepyfile(test_scale=code)
    result = run("--diego-cells", "2", "--diego-time-scale", "0.1", "--diego-scale", "0.25", "-n", "2")
    result.assert_outcomes(passed=2)
    test = results(pytester)["tests"]["test_scale.py::test_scale_up"]
    assert [v["outcome"] for v in test["verdicts"]] == ["passed"] * 3
    bound = test["verdicts"][2]
    assert bound["expression"] == "max < 8s" and bound["note"] == "convergence interval 3s + placement 5s"


def test_the_readme_scenario_runs_as_written(pytester, run):
    readme = (DOC.parents[1] / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert "def test_task_burst(" in code
    pytester.makepyfile(test_readme=code)
    result = run("--diego-cells", "2", "--diego-time-scale", "0.1", "-n", "2")
    result.assert_outcomes(passed=2)
    test = results(pytester)["tests"]["test_readme.py::test_task_burst"]
    assert [v["outcome"] for v in test["verdicts"]] == ["passed"] * 5
    assert test["metrics"]["RequestLatency.DesireTask"]["count"] == 200
