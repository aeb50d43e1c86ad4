"""Latency histogram costs (pytest-diego's own speed): pytest-diego's ``Histogram`` beside ``hdrh`` and numpy.

    .venv/bin/python -m benchmarks.histograms [--rounds 5] [--samples 200000] [--workers 100]

Per round, on the same lognormal latencies (median 10 ms, sigma 1, in seconds):
- record cost per sample: ``Histogram.record``, ``Trend.record`` (what the client's observer
  calls: lock, time window, outcome), ``hdrh`` ``record_value`` (1 µs..1 h in ns at 2 and 3
  significant figures), and a Python list append (numpy's input);
- merge time for ``--workers`` worker histograms of ``samples / 10`` values each, including the
  serialized hop an xdist worker makes (``to_dict``/``from_dict``; ``encode``/``decode_and_add``;
  numpy: concatenating raw arrays);
- memory per metric (tracemalloc; hdrh's counts array by its size; numpy: 8 bytes a sample);
- percentile error against numpy's exact ``inverted_cdf`` at p50/p90/p99/p99.9.
Writes ``results/histograms.json``.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from benchmarks._common import summary, write_result
from pytest_diego.measure.histogram import Histogram
from pytest_diego.measure.metrics import Trend

MODULE = "benchmarks.histograms"
HOUR_NS = 3_600_000_000_000
PCTS = (50.0, 90.0, 99.0, 99.9)


def samples(n: int, seed: int) -> list[float]:
    """``n`` lognormal latencies in seconds (median 10 ms, sigma 1)."""
    rng = np.random.default_rng(seed)
    return rng.lognormal(np.log(0.010), 1.0, n).tolist()


def timed(fn: Any) -> float:
    """Seconds ``fn()`` takes."""
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def record_costs(values: list[float]) -> dict[str, float]:
    """Seconds per sample for each recorder."""
    ns = [int(v * 1e9) for v in values]
    out: dict[str, float] = {}
    h = Histogram()
    out["ours_histogram"] = timed(lambda: [h.record(v) for v in values]) / len(values)
    trend, now = Trend(), time.time()
    out["ours_trend"] = timed(lambda: [trend.record(now, v, "ok") for v in values]) / len(values)
    for sig in (2, 3):
        hd = HdrHistogram(1, HOUR_NS, sig)
        out[f"hdrh_{sig}sig"] = timed(lambda hd=hd: [hd.record_value(x) for x in ns]) / len(values)
    raw: list[float] = []
    out["numpy_list_append"] = timed(lambda: [raw.append(v) for v in values]) / len(values)
    return out


def merge_costs(values: list[float], workers: int) -> dict[str, float]:
    """Seconds to merge ``workers`` shards, each shipped serialized as an xdist worker would."""
    shards = [values[i::workers] for i in range(workers)]
    ours = []
    for s in shards:
        h = Histogram()
        for v in s:
            h.record(v)
        ours.append(h.to_dict())
    hdr = []
    for s in shards:
        hd = HdrHistogram(1, HOUR_NS, 3)
        for v in s:
            hd.record_value(int(v * 1e9))
        hdr.append(hd.encode())
    arrays = [np.asarray(s) for s in shards]

    def merge_ours() -> None:
        total = Histogram()
        for d in ours:
            total.merge(Histogram.from_dict(json.loads(json.dumps(d))))
        total.percentile(99)

    def merge_hdr() -> None:
        total = HdrHistogram(1, HOUR_NS, 3)
        for blob in hdr:
            total.decode_and_add(blob)
        total.get_value_at_percentile(99)

    def merge_numpy() -> None:
        np.percentile(np.concatenate(arrays), 99, method="inverted_cdf")

    return {"ours": timed(merge_ours), "hdrh_3sig": timed(merge_hdr), "numpy_raw": timed(merge_numpy),
            "ours_serialized_bytes_per_shard": float(np.mean([len(json.dumps(d)) for d in ours])),
            "hdrh_serialized_bytes_per_shard": float(np.mean([len(b) for b in hdr]))}


def memory(values: list[float]) -> dict[str, float]:
    """Bytes held by one metric after recording ``values``."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    h = Histogram()
    for v in values:
        h.record(v)
    ours = tracemalloc.get_traced_memory()[0] - base
    base = tracemalloc.get_traced_memory()[0]
    trend, now = Trend(), time.time()
    for v in values:
        trend.record(now, v)
    ours_trend = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    out = {"ours_histogram": float(ours), "ours_trend_one_window": float(ours_trend),
           "ours_buckets_used": float(len(h)), "numpy_raw": float(8 * len(values))}
    for sig in (2, 3):
        hd = HdrHistogram(1, HOUR_NS, sig)
        out[f"hdrh_{sig}sig_counts"] = float(hd.counts_len * hd.word_size)
    return out


def errors(values: list[float]) -> dict[str, float]:
    """Largest relative percentile error over PCTS, against numpy's exact value."""
    exact = np.percentile(np.asarray(values), PCTS, method="inverted_cdf")
    h = Histogram()
    for v in values:
        h.record(v)
    out = {"ours": max(abs(h.percentile(p) - e) / e for p, e in zip(PCTS, exact, strict=True))}
    for sig in (2, 3):
        hd = HdrHistogram(1, HOUR_NS, sig)
        for v in values:
            hd.record_value(int(v * 1e9))
        out[f"hdrh_{sig}sig"] = max(abs(hd.get_value_at_percentile(p) / 1e9 - e) / e
                                    for p, e in zip(PCTS, exact, strict=True))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=100)
    args = parser.parse_args()
    rounds = []
    for i in range(args.rounds):
        values = samples(args.samples, seed=i)
        r = {"record_s_per_sample": record_costs(values), "merge_s": merge_costs(values, args.workers),
             "memory_bytes": memory(values[: args.samples // 10]), "max_rel_error": errors(values)}
        rounds.append(r)
        print(json.dumps(r), flush=True)
    agg = {section: {k: summary([r[section][k] for r in rounds]) for k in rounds[0][section]}
           for section in rounds[0]}
    rec = [r["record_s_per_sample"] for r in rounds]
    ratios = {
        "record_hdrh3_over_ours_histogram": summary([x["hdrh_3sig"] / x["ours_histogram"] for x in rec]),
        "record_ours_trend_over_histogram": summary([x["ours_trend"] / x["ours_histogram"] for x in rec]),
        "merge_hdrh3_over_ours": summary([r["merge_s"]["hdrh_3sig"] / r["merge_s"]["ours"] for r in rounds]),
    }
    path = write_result("histograms", MODULE, {"config": vars(args), "summary": agg, "ratios": ratios,
                                               "rounds": rounds})
    print(json.dumps({k: round(v["median"], 3) for k, v in ratios.items()}))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
