"""Fixtures for the cell tests: a fake BBS and an in-process cell serving the real rep API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cell_harness import FakeBBS, RunningCell, start_cell


@pytest.fixture
def fake_bbs() -> FakeBBS:
    return FakeBBS()


@pytest.fixture
def cell(tmp_path: Path, fake_bbs: FakeBBS) -> Iterator[RunningCell]:
    yield from start_cell(tmp_path, fake_bbs)
