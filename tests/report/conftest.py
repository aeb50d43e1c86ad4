"""Shared fixtures: sample results built through the real measurement code, rendered once."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_diego.report.html import render_report
from tests.support.sample_results import BURST, sample_results


@pytest.fixture(scope="session")
def _sample() -> dict[str, Any]:
    return sample_results()


@pytest.fixture(scope="session")
def _after() -> dict[str, Any]:
    """A slower run that did not run the burst: the 'after' side of a comparison."""
    after = sample_results(seed=1, slow=2.0)
    del after["tests"][BURST]
    return after


@pytest.fixture
def sample(_sample: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy each test may change."""
    return copy.deepcopy(_sample)


@pytest.fixture
def results_file(tmp_path: Path, sample: dict[str, Any]) -> Path:
    path = tmp_path / "diego-results" / "results.json"
    path.parent.mkdir()
    path.write_text(json.dumps(sample))
    return path


@pytest.fixture(scope="session")
def single_report(tmp_path_factory: pytest.TempPathFactory, _sample: dict[str, Any]) -> Path:
    """report.html of the sample run, in its own results folder."""
    return render_report(_sample, tmp_path_factory.mktemp("single") / "diego-results" / "report.html")


@pytest.fixture(scope="session")
def comparison_report(tmp_path_factory: pytest.TempPathFactory, _sample: dict[str, Any],
                      _after: dict[str, Any]) -> Path:
    out = tmp_path_factory.mktemp("compare") / "diego-results" / "comparison.html"
    return render_report([_sample, _after], out, labels=["before", "after"])
