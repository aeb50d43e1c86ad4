"""Read what the embedded components logged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def log_records(path: Path, message: str | None = None) -> list[dict[str, Any]]:
    """The lager JSON records of a log file, in order; only those whose ``message`` is
    ``message`` when given."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return records if message is None else [r for r in records if r["message"] == message]
