"""Poll a condition until it holds, with a bound: a test that waits never hangs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Call ``check`` until it returns something truthy and return that; fail naming ``what``
    after ``timeout`` seconds. An exception from ``check`` is not swallowed: a component that
    died fails the test at once instead of after the bound."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
