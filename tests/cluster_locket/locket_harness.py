"""Helpers for the embedded Locket tests: its log and its metrics."""

from __future__ import annotations

from pathlib import Path

from tests.support.lager_logs import log_records


def log_lines(state_dir: Path) -> list[dict]:
    return log_records(state_dir / "logs" / "locket.log")


def metric(url: str, name: str, **labels: str) -> float:
    """One sample of ``name`` carrying ``labels`` (among the metrics agent's own) from a metrics
    endpoint; a duration, published in nanoseconds, in seconds."""
    import requests
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(url, timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value / 1e9 if sample.labels.get("unit") == "nanos" else sample.value
    raise AssertionError(f"{url} serves no {name}{labels or ''}")
