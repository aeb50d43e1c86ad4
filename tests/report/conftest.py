"""Shared fixtures: a sample results document built through the real measurement code."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_diego.report.sample import sample_results


@pytest.fixture(scope="session")
def _sample() -> dict[str, Any]:
    return sample_results()


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
