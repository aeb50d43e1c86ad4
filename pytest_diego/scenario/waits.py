"""Bounded waits that fail with what was still missing, never hang.

Every wait a scenario does has a bound; when it runs out, the test fails naming what was still
missing (``every instance RUNNING: not done after 19s; still missing: 12 instances not RUNNING:
...``), so a cluster that never converges reads as what it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import pytest

from pytest_diego.bbs.errors import BBSClientError, BBSError


def wait_until(what: str, missing: Callable[[], str | None], timeout: float, interval: float = 0.25,
               on_poll: Callable[[], None] | None = None) -> float:
    """Poll ``missing()`` (None once done, else what is still missing) until done; return the
    seconds it took. Fails the test after ``timeout`` naming what was still missing. A BBS that
    does not answer is a reason to keep polling (an outage is what many scenarios wait out)."""
    start = time.monotonic()
    last = "nothing observed yet"
    while True:
        try:
            left = missing()
        except (BBSError, BBSClientError) as exc:
            left = f"the BBS did not answer: {exc}"
        if left is None:
            return time.monotonic() - start
        last = left
        if on_poll is not None:
            on_poll()
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what}: not done after {timeout:.1f}s; still missing: {last}", pytrace=False)
        time.sleep(interval)


def sample(items: Iterable[str], limit: int = 5) -> str:
    """A few of ``items`` for a message: ``a, b, c and 12 more``."""
    items = sorted(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
