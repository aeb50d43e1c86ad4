"""The project's tests: the slowest start first.

Under ``-n 2`` the run ends when the last worker does; a two-and-a-half-minute end-to-end check
collected late keeps one worker busy long after the other ran out of work. The perf-suite checks
(each runs a scenario in a subprocess, 10 s to 150 s) go first, in the first worker's first
batch, while the other worker and then both share the short tests.
"""

from __future__ import annotations

import pytest

SLOW_FIRST = ("tests/perf_suites_check/",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(SLOW_FIRST))  # stable: order kept within
