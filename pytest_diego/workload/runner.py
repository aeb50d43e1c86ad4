"""Load runners: an open model (arrival rate; no coordinated omission) and a closed model.

**Open model** (``OpenModel``, like k6's constant/ramping-arrival-rate and wrk2): operation
``i`` has an *intended start* on a fixed schedule (constant rate, or linear ramps between
rates). Latency (``LoadLatency``) is measured from the intended start, so a slow system shows
up as latency instead of silently lowering the load; ``LoadServiceTime`` is the uncorrected
time from the actual start (wrk2's ``--u_latency``). The rule for starts, counted in the Rate
``LoadStarts``:

- an operation runs on one of ``workers`` threads; if all are busy it waits in a queue;
- it is **late** when it waited in that queue — the system's slowness held back the load — and
  started more than ``late_tolerance`` seconds after its intended start (it still runs, and its
  latency includes the wait). A start delayed only by this process's own thread scheduling
  (CPython hands the GIL over every 5 ms, so busy observer threads delay a wake-up by one or
  several such intervals) is not late: the delay is in its ``LoadLatency`` all the same, and
  ``LoadLatency`` minus ``LoadServiceTime`` is every start's wait;
- it is **dropped** (never run, like k6's ``dropped_iterations``) when ``max_in_flight``
  operations are already running or queued at its intended start.

**Closed model** (``ClosedModel``, labelled ``model="closed"``): ``users`` threads each run the
next operation as soon as their previous one ends. Its latencies are service times only
(``LoadServiceTime``): a closed loop lowers its arrival rate when the system slows down, so it
cannot measure latency from an intended start.

Both are bounded: by operation count (``max_ops``) and by time (the schedule or ``duration``,
plus ``drain_timeout`` for operations still running at the end, reported as ``unfinished``).
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_diego.measure import names
from pytest_diego.measure.measurements import Measurements
from pytest_diego.workload.shard import check_shard, owns

Operation = Callable[[int], Any]
MAX_OPS = 1_000_000


@dataclass
class RunResult:
    """What a load run did; ``model`` says whether latencies are CO-free (open) or not."""

    model: str
    scheduled: int = 0
    started: int = 0
    late: int = 0
    dropped: int = 0
    ok: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    unfinished: int = 0
    elapsed: float = 0.0

    @property
    def achieved_rate(self) -> float:
        return self.started / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "achieved_rate": self.achieved_rate}


def outcome_of(error: BaseException) -> str:
    """An error's outcome name, as the BBS client's observer reports it (``outcome``: an
    ``Error.Type`` or a transport class such as ``Timeout``), else the exception's class."""
    kind = getattr(error, "outcome", None)
    return kind if isinstance(kind, str) and kind else type(error).__name__


def arrival_offsets(rate: float | None = None, duration: float | None = None,
                    ramp: Sequence[tuple[float, float]] | None = None, start_rate: float = 0.0,
                    max_ops: int = MAX_OPS) -> Iterator[float]:
    """Intended start offsets (seconds from the run's start) of every operation, in order.

    Either ``rate`` ops/s for ``duration`` s, or ``ramp`` stages ``[(target_rate, seconds)]``
    going linearly from the previous rate (``start_rate`` first) to ``target_rate``.
    """
    if ramp is None:
        if rate is None or duration is None or rate <= 0 or duration <= 0:
            raise ValueError("an open model needs rate > 0 and duration > 0, or ramp=[(rate, seconds)]")
        stages = [(float(rate), float(duration))]
        start_rate = float(rate)
    else:
        if rate is not None or duration is not None:
            raise ValueError("give either rate and duration, or ramp, not both")
        stages = [(float(r), float(s)) for r, s in ramp]
        if not stages or any(r < 0 or s <= 0 for r, s in stages):
            raise ValueError(f"ramp stages must be (rate >= 0, seconds > 0), got {list(ramp)!r}")
    total = _expected_ops(stages, start_rate)
    if total > max_ops:
        raise ValueError(f"the schedule has {total} operations, more than max_ops={max_ops}; "
                         "lower the rate or duration, or raise max_ops")
    return _offsets(stages, start_rate)


def _expected_ops(stages: list[tuple[float, float]], start_rate: float) -> int:
    area, current = 0.0, start_rate
    for target, seconds in stages:
        area += (current + target) / 2 * seconds
        current = target
    return math.ceil(area - 1e-9)


def _offsets(stages: list[tuple[float, float]], start_rate: float) -> Iterator[float]:
    k, base, stage_start, current = 0, 0.0, 0.0, start_rate
    for target, seconds in stages:
        a = (target - current) / (2 * seconds)
        area = current * seconds + a * seconds * seconds
        while k < base + area - 1e-9:
            need = k - base
            if abs(a) < 1e-12:
                if current <= 0:
                    break
                t = need / current
            else:
                t = max(0.0, (-current + math.sqrt(max(0.0, current * current + 4 * a * need))) / (2 * a))
            if t > seconds + 1e-9:
                break
            yield stage_start + t
            k += 1
        base += area
        stage_start += seconds
        current = target


class OpenModel:
    """Operations at a fixed arrival rate (or ramps), measured from their intended start."""

    model = "open"

    def __init__(self, rate: float | None = None, duration: float | None = None, *,
                 ramp: Sequence[tuple[float, float]] | None = None, start_rate: float = 0.0,
                 workers: int = 16, max_in_flight: int | None = None, late_tolerance: float = 0.01,
                 max_ops: int = MAX_OPS, drain_timeout: float = 60.0,
                 shard: tuple[int, int] = (0, 1)) -> None:
        arrival_offsets(rate, duration, ramp, start_rate, max_ops)  # validate now, not mid-run
        check_shard(*shard)
        self.rate, self.duration, self.ramp, self.start_rate = rate, duration, ramp, start_rate
        self.workers = workers
        self.max_in_flight = max_in_flight if max_in_flight is not None else 4 * workers
        if self.max_in_flight < workers:
            raise ValueError(f"max_in_flight ({self.max_in_flight}) must be at least workers ({workers})")
        self.late_tolerance, self.max_ops, self.drain_timeout = late_tolerance, max_ops, drain_timeout
        self.shard = shard

    def offsets(self) -> Iterator[float]:
        return arrival_offsets(self.rate, self.duration, self.ramp, self.start_rate, self.max_ops)

    def run(self, op: Operation, measurements: Measurements | None = None) -> RunResult:
        """Run ``op(i)`` for this shard's operations on schedule; record into ``measurements``."""
        m = measurements if measurements is not None else Measurements()
        latency, service = m.trend(names.LOAD_LATENCY), m.trend(names.LOAD_SERVICE_TIME)
        starts = m.rate(names.LOAD_STARTS)
        result = RunResult(self.model)
        done = threading.Condition()
        in_flight = 0
        t0 = time.perf_counter() + 0.005
        wall0 = time.time() + (t0 - time.perf_counter())

        def one(i: int, intended: float, queued: bool) -> None:
            nonlocal in_flight
            actual = time.perf_counter()
            late = queued and actual - intended > self.late_tolerance
            outcome = "ok"
            try:
                op(i)
            except Exception as e:  # the operation's failure is a measurement, not a crash
                outcome = outcome_of(e)
            end = time.perf_counter()
            wall_end = wall0 + (end - t0)
            latency.record(wall_end, end - intended, outcome)
            service.record(wall_end, end - actual, outcome)
            starts.add(wall0 + (actual - t0), "late" if late else "ok")
            with done:
                in_flight -= 1
                result.late += late
                if outcome == "ok":
                    result.ok += 1
                else:
                    result.failed += 1
                    result.failures[outcome] = result.failures.get(outcome, 0) + 1
                done.notify_all()

        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="diego-load")
        try:
            for i, offset in enumerate(self.offsets()):
                if not owns(i, *self.shard):
                    continue
                intended = t0 + offset
                delay = intended - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                result.scheduled += 1
                with done:
                    if in_flight >= self.max_in_flight:
                        result.dropped += 1
                        starts.add(wall0 + offset, "dropped")
                        continue
                    queued = in_flight >= self.workers  # every worker busy: it waits for one
                    in_flight += 1
                result.started += 1
                pool.submit(one, i, intended, queued)
            result.unfinished = _drain(done, lambda: in_flight, self.drain_timeout)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        result.elapsed = time.perf_counter() - t0
        return result


class ClosedModel:
    """``users`` concurrent loops, each starting its next operation when the last one ends.

    ``iterations`` is the whole workload's count; a shard runs its share of those indices.
    Without ``duration``, no operation starts after ``max_duration`` seconds.

    Labelled ``model="closed"``: its latencies are service times and suffer coordinated omission.
    """

    model = "closed"

    def __init__(self, users: int, iterations: int | None = None, duration: float | None = None, *,
                 max_duration: float = 3600.0, drain_timeout: float = 60.0,
                 shard: tuple[int, int] = (0, 1)) -> None:
        if users < 1:
            raise ValueError(f"a closed model needs at least 1 user, got {users}")
        if iterations is None and duration is None:
            raise ValueError("a closed model needs iterations=N or duration=seconds (runs are bounded)")
        check_shard(*shard)
        self.users, self.iterations, self.duration = users, iterations, duration
        self.time_limit = duration if duration is not None else max_duration
        self.drain_timeout, self.shard = drain_timeout, shard

    def run(self, op: Operation, measurements: Measurements | None = None) -> RunResult:
        m = measurements if measurements is not None else Measurements()
        service = m.trend(names.LOAD_SERVICE_TIME)
        result = RunResult(self.model)
        lock = threading.Lock()
        counter = itertools.count()
        start = time.perf_counter()
        deadline = start + self.time_limit
        index, count = self.shard

        def user() -> None:
            while True:
                with lock:
                    i = next(counter) * count + index  # this shard's operation indices
                    if self.iterations is not None and i >= self.iterations:
                        return
                    if time.perf_counter() >= deadline:
                        return
                    result.scheduled += 1
                    result.started += 1
                began = time.perf_counter()
                outcome = "ok"
                try:
                    op(i)
                except Exception as e:  # recorded as the operation's outcome
                    outcome = outcome_of(e)
                service.record(time.time(), time.perf_counter() - began, outcome)
                with lock:
                    if outcome == "ok":
                        result.ok += 1
                    else:
                        result.failed += 1
                        result.failures[outcome] = result.failures.get(outcome, 0) + 1

        threads = [threading.Thread(target=user, name=f"diego-user-{u}", daemon=True)
                   for u in range(self.users)]
        for thread in threads:
            thread.start()
        limit = deadline + self.drain_timeout
        for thread in threads:
            thread.join(max(0.0, limit - time.perf_counter()))
        with lock:
            result.unfinished = result.started - result.ok - result.failed
        result.elapsed = time.perf_counter() - start
        return result


def _drain(done: threading.Condition, in_flight: Callable[[], int], timeout: float) -> int:
    """Wait up to ``timeout`` s for running operations; how many are still running after."""
    deadline = time.monotonic() + timeout
    with done:
        while in_flight() > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            done.wait(left)
        return in_flight()
