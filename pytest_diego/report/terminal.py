"""The end-of-run SLO table: one row per judged threshold, every scenario once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

HEADER = ("test", "metric", "threshold", "observed", "")


class TerminalWriter(Protocol):
    def write_sep(self, sep: str, title: str, **markup: bool) -> None: ...
    def write_line(self, line: str, **markup: bool) -> None: ...


def slo_rows(tests: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str, bool]]:
    """(test, metric, threshold, observed, passed) for every verdict in results.json's ``tests``."""
    rows = []
    for nodeid, test in tests.items():
        for v in test.get("verdicts", []):
            threshold = v["expression"] if v.get("source", "slo") == "slo" else f"baseline: {v['expression']}"
            rows.append((nodeid, v["metric"], threshold, v["observed"], bool(v["passed"])))
    return rows


def format_table(rows: Iterable[tuple[str, str, str, str, bool]]) -> list[str]:
    """Aligned lines: a header, then each row ending in ✓ or ✗."""
    cells = [HEADER] + [(t, m, th, o, "✓" if ok else "✗") for t, m, th, o, ok in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in cells]


def write_slo_table(tw: TerminalWriter, tests: dict[str, dict[str, Any]]) -> None:
    """Write the table under a ``Diego SLOs`` separator; nothing when no test had an SLO."""
    rows = slo_rows(tests)
    if not rows:
        return
    failed = sum(1 for row in rows if not row[4])
    title = f"Diego SLOs: {len(rows) - failed} passed, {failed} failed"
    tw.write_sep("=", title, red=bool(failed), green=not failed, bold=True)
    header, *lines = format_table(rows)
    tw.write_line(header, bold=True)
    for line, row in zip(lines, rows, strict=True):
        tw.write_line(line, green=row[4], red=not row[4])
