"""Fixtures for the cell tests: an in-process cell serving the real rep API to an in-memory BBS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cell_harness import CellSideBBS, RunningCell, start_cell


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[RunningCell]:
    yield from start_cell(tmp_path, CellSideBBS())
