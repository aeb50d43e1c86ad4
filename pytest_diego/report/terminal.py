"""The end-of-run SLO table: one row per threshold, every scenario once, four outcomes.

A gauge's verdict says how many samples it rests on (``max=73ms (12 samples)``): Diego's loop
durations are read as published, once per emission, so a short run may judge few of them.

✓ passed, ✗ failed, – not measured (the reason says which option would measure it),
s skipped (the scenario did not run). The separator counts each outcome apart, so a run whose
scenarios were skipped never reads as failed SLOs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol

from pytest_diego.slo import FAILED, MARKS, NOT_MEASURED, OUTCOMES, PASSED, SKIPPED, Verdict

HEADER = ("test", "metric", "threshold", "observed", "")
COLOURS = {PASSED: "green", FAILED: "red", NOT_MEASURED: "yellow", SKIPPED: "yellow"}


class TerminalWriter(Protocol):
    def write_sep(self, sep: str, title: str, **markup: bool) -> None: ...
    def write_line(self, line: str, **markup: bool) -> None: ...


class Row(NamedTuple):
    test: str
    metric: str
    threshold: str
    observed: str
    outcome: str
    note: str = ""  # where the threshold's number comes from


def slo_rows(tests: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """A row for every verdict in results.json's ``tests``; a not-measured or skipped verdict
    shows its reason where a value would be."""
    rows = []
    for nodeid, test in tests.items():
        for data in test.get("verdicts", []):
            v = Verdict.from_dict(data)
            threshold = v.expression if v.source == "slo" else f"baseline: {v.expression}"
            observed = v.detail if v.outcome in (NOT_MEASURED, SKIPPED) else v.observed_text
            if v.samples is not None and v.outcome in (PASSED, FAILED):
                observed += f" ({v.samples} sample{'s' if v.samples != 1 else ''})"
            rows.append(Row(nodeid, v.metric, threshold, observed, v.outcome, v.note))
    return rows


def format_table(rows: Iterable[Row]) -> list[str]:
    """Aligned lines: a header, then each row with its outcome's mark and, after it, where the
    threshold comes from (``# presence TTL 1.5s + ...``)."""
    rows = list(rows)
    cells = [HEADER] + [(r.test, r.metric, r.threshold, r.observed, MARKS[r.outcome]) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    notes = [""] + [f"  # {r.note}" if r.note else "" for r in rows]
    return [("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + note)
            for row, note in zip(cells, notes, strict=True)]


def title(rows: list[Row]) -> str:
    """``Diego SLOs: 30 passed, 1 failed, 4 not measured, 6 skipped`` (zero counts left out,
    passed and failed always shown)."""
    counts = Counter(r.outcome for r in rows)
    parts = [f"{counts[o]} {o}" for o in OUTCOMES if counts[o] or o in (PASSED, FAILED)]
    return "Diego SLOs: " + ", ".join(parts)


def write_slo_table(tw: TerminalWriter, tests: Mapping[str, Mapping[str, Any]]) -> None:
    """Write the table under a ``Diego SLOs`` separator; nothing when no test had an SLO."""
    rows = slo_rows(tests)
    if not rows:
        return
    failed = any(r.outcome == FAILED for r in rows)
    tw.write_sep("=", title(rows), red=failed, green=not failed, bold=True)
    header, *lines = format_table(rows)
    tw.write_line(header, bold=True)
    for line, row in zip(lines, rows, strict=True):
        tw.write_line(line, **{COLOURS[row.outcome]: True})
