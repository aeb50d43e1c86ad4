"""SLO threshold overrides per environment, without editing tests.

Command line (repeatable; several expressions joined with ``;``)::

    --diego-slo "RequestLatency.DesireTask=p(99)<2s"          # every test that declares the metric
    --diego-slo "test_burst::LRPStartTime=p(99)<30s;max<60s"  # one test (adds the metric if absent)

File (``--diego-slo-file``), the same keys mapping to one expression or a list of them:
``.toml``, ``.json``, or ``.ini`` with a ``[slo]`` section whose values are
``;``-separated. Command-line overrides win over the file.
"""

from __future__ import annotations

import configparser
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class SLOOverrides:
    """``everywhere[metric]`` and ``per_test[test][metric]``: expressions replacing the markers'."""

    everywhere: dict[str, tuple[str, ...]] = field(default_factory=dict)
    per_test: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    def apply(self, nodeid: str, test_name: str, declared: dict[str, tuple[str, ...]]
              ) -> dict[str, tuple[str, ...]]:
        """The thresholds this test is judged by: its markers', with the overrides applied."""
        result = {metric: self.everywhere.get(metric, exprs) for metric, exprs in declared.items()}
        for test, metrics in self.per_test.items():
            if test in (test_name, test_name.split("[")[0], nodeid) or nodeid.endswith("::" + test):
                result.update(metrics)
        return result

    def items(self) -> list[tuple[str, str]]:
        """Every (key, expression) pair, for validation."""
        pairs = [(m, e) for m, exprs in self.everywhere.items() for e in exprs]
        return pairs + [(f"{t}::{m}", e) for t, ms in self.per_test.items() for m, exprs in ms.items()
                        for e in exprs]


def load_overrides(entries: list[str], file: str | None) -> SLOOverrides:
    """Parse the file form, then the command-line form on top of it."""
    everywhere: dict[str, tuple[str, ...]] = {}
    per_test: dict[str, dict[str, tuple[str, ...]]] = {}
    pairs = list(_read_file(Path(file)).items()) if file else []
    for entry in entries:
        key, sep, exprs = entry.partition("=")
        if not sep or not key.strip() or not exprs.strip():
            raise pytest.UsageError(f"--diego-slo {entry!r}: write METRIC=EXPR, e.g. "
                                    "--diego-slo 'RequestLatency.DesireTask=p(99)<2s' (or TEST::METRIC=EXPR)")
        pairs.append((key.strip(), exprs))
    for key, value in pairs:
        parts = value.split(";") if isinstance(value, str) else value
        expressions = tuple(e.strip() for e in parts if e.strip())
        if not expressions:
            raise pytest.UsageError(f"SLO override {key!r} has no expression; write e.g. {key}=p(99)<2s")
        test, sep, metric = key.rpartition("::")
        if sep:
            per_test.setdefault(test, {})[metric] = expressions
        else:
            everywhere[metric] = expressions
    return SLOOverrides(everywhere, per_test)


def _read_file(path: Path) -> dict[str, Any]:
    option = f"--diego-slo-file {path}"
    if not path.is_file():
        raise pytest.UsageError(f"{option}: no such file")
    text = path.read_text()
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix == ".ini":
            parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            parser.read_string(text)
            if not parser.has_section("slo"):
                raise pytest.UsageError(f"{option}: put the overrides in an [slo] section")
            data = dict(parser.items("slo"))
        else:
            raise pytest.UsageError(f"{option}: use a .toml, .json or .ini file")
    except (ValueError, configparser.Error) as exc:
        raise pytest.UsageError(f"{option}: cannot be parsed: {exc}") from None
    if not isinstance(data, dict):
        raise pytest.UsageError(f"{option}: must map METRIC or TEST::METRIC keys to expressions")
    bad = [k for k, v in data.items() if not (isinstance(v, str) or
                                             (isinstance(v, list) and all(isinstance(e, str) for e in v)))]
    if bad:
        raise pytest.UsageError(f"{option}: every key (METRIC or TEST::METRIC) must map to an expression "
                                f"string or a list of them; check {bad[:3]}")
    return data
