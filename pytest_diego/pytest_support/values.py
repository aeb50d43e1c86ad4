"""Option value parsers: each returns the value or raises a ``pytest.UsageError`` naming the option."""

from __future__ import annotations

import re
from typing import Any

import pytest

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def positive_float(value: Any, option: str, default: float, example: str) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number > 0 or number == float("inf"):
        raise pytest.UsageError(f"{option} {value!r}: must be a number greater than 0 ({example})")
    return number


def positive_int(value: Any, option: str, default: int, example: str) -> int:
    if value is None:
        return default
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1:
        raise pytest.UsageError(f"{option} {value!r}: must be a whole number of at least 1 ({example})")
    return number


def fraction(value: Any) -> float:
    if value is None:
        return 0.10
    text = str(value).strip()
    try:
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        number = -1.0
    if not 0 <= number < 10:
        raise pytest.UsageError(f"--diego-baseline-tolerance {value!r}: must be a fraction such as 0.10 "
                                "or a percentage such as 10% (how much worse than the baseline is tolerated)")
    return number


def duration(value: Any, option: str, default: float) -> float:
    """Seconds from ``90``, ``90s``, ``500ms``, ``10m`` or ``1h``."""
    if value is None:
        return default
    match = _DURATION.match(str(value))
    seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0
    if not seconds > 0:
        raise pytest.UsageError(
            f"{option} {value!r}: must be a duration greater than 0 such as 90s, 10m or 1h")
    return seconds
