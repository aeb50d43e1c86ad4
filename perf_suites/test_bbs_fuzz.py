"""Fuzz a BBS (embedded or real) with Hypothesis and check the promises Diego's BBS makes.

Diego's BBS answers every request with HTTP 200 and puts errors in band (docs/diego-facts.md §11.1):
a body that does not decode, or a message that fails validation, gets ``InvalidRequest``; what it
accepts, it stores as sent; and nothing a client sends changes what others desired. Every move
below is drawn from ``pytest_diego.strategies`` and recorded as one ``BBSPromiseKept`` outcome:

- desire a valid DesiredLRP or Task: accepted, and read back byte for byte;
- update one of the fuzz's own DesiredLRPs: accepted, and only what the update sets changes;
- desire an invalid DesiredLRP or Task, or update a sentinel invalidly: ``InvalidRequest``, and
  nothing stored or changed;
- desire a valid DesiredLRP under a sentinel's process_guid: ``ResourceExists``;
- malformed protobuf bytes on any route that takes a request: ``InvalidRequest``;

and, at the end, every DesiredLRP desired before the fuzzing (the run's sentinels and all of the
target's) is unchanged byte for byte, and every Task desired before and still there has the same
definition. An HTTP status other than 200 (a 500 among them) or no answer breaks the promise too.

Safe against a real Diego: at most ``DIEGO_FUZZ_EXAMPLES`` moves (default 40) within
``DIEGO_FUZZ_SECONDS`` (default 20 s); everything desired lives in the ``pytest-diego-fuzz``
domain under this run's guid prefix; DesiredLRPs have 0 instances and Tasks a placement tag and
rootfs no cell has, so nothing runs; malformed bodies are undecodable by construction; and
everything desired is removed afterwards, also when the scenario fails (the test fails if anything
is left). ``DIEGO_FUZZ_SEED`` replays a run's examples. Desired LRPs that Cloud Controller changes
during the run count as changed: run it in a quiet window.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from pytest_diego import strategies
from pytest_diego.bbs import models
from pytest_diego.bbs.errors import BBSClientError, BBSError, BBSHTTPError
from pytest_diego.measure import define_metric
from pytest_diego.workload import desired_lrp


def knob(name: str, default: str, kind: type[int] | type[float]) -> Any:
    """An environment setting of this suite, or a clear error naming it."""
    raw = os.environ.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{name}={raw!r}: expected a {'whole ' if kind is int else ''}number >= 0, "
                         f"e.g. {name}={default}")
    return value


DOMAIN = "pytest-diego-fuzz"
EXAMPLES: int = knob("DIEGO_FUZZ_EXAMPLES", "40", int)
SECONDS: float = knob("DIEGO_FUZZ_SECONDS", "20", float)
SEED: int | None = knob("DIEGO_FUZZ_SEED", "0", int) if os.environ.get("DIEGO_FUZZ_SEED") else None
UNPLACEABLE_TAG = "pytest-diego-fuzz-no-such-cell"
UNPLACEABLE_ROOTFS = "preloaded:pytest-diego-fuzz-no-such-stack"
SENTINELS = 2
BAD_GUID_CHARS = " !./:@é"
PROMISE = "BBSPromiseKept"
define_metric(PROMISE, "rate", about="one fuzzed request: ok when the BBS kept Diego's promise")


@dataclass
class Fuzz:
    """The run's own records and what it found."""

    bbs: Any
    measurements: Any
    prefix: str = field(default_factory=lambda: f"fz{uuid.uuid4().hex[:8]}-")
    serial: int = 0
    sentinels: list[str] = field(default_factory=list)
    lrps: list[str] = field(default_factory=list)  # every process_guid it sent, to remove them all
    tasks: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)

    def guid(self) -> str:
        self.serial += 1
        return f"{self.prefix}{self.serial}"

    def kept(self, promise: str | None, detail: str = "") -> None:
        """Record one promise: kept (None) or the way it was broken."""
        self.measurements.rate(PROMISE).add(time.time(), "ok" if promise is None else promise)
        if promise is not None:
            self.broken.append(f"{promise}: {detail}" if detail else promise)


def moves() -> dict[str, st.SearchStrategy[Any]]:
    """What each kind of move sends, drawn from pytest_diego.strategies."""
    tasks = strategies.task_definitions(placement_tags=st.just([UNPLACEABLE_TAG]),
                                        root_fs=st.just(UNPLACEABLE_ROOTFS))
    task_requests = strategies.desire_task_requests(domain=st.just(DOMAIN), definitions=tasks)
    lrps = strategies.desired_lrps(domain=st.just(DOMAIN), instances=st.just(0))
    return {"desire lrp": lrps, "desire task": task_requests,
            "update": strategies.desired_lrp_updates(instances=st.just(0)),
            "invalid lrp": strategies.invalid_desired_lrps(valid=lrps),
            "invalid task": strategies.invalid_desire_task_requests(valid=task_requests),
            "invalid update": strategies.invalid_desired_lrp_updates(),
            "existing guid": lrps}


@pytest.mark.scenario("BBS fuzz")
@pytest.mark.slo(PROMISE, "rate == 1", "count >= 20")
@pytest.mark.slo("RequestLatency", "p(99) < 1s")
def test_bbs_fuzz(diego, bbs, measurements):
    fuzz = Fuzz(bbs, measurements)
    with diego.client(timeout=30.0) as reader:  # unrecorded: snapshots are not the fuzz's latency
        try:
            for _ in range(SENTINELS):
                guid = fuzz.guid()
                fuzz.lrps.append(guid)
                reader.desire_lrp(desired_lrp(guid, domain=DOMAIN, instances=0))
                fuzz.sentinels.append(guid)
            before_lrps, before_tasks = desired_before(reader, fuzz), tasks_before(reader)
            run_moves(fuzz, SECONDS)
            compare_lrps(fuzz, before_lrps, desired_before(reader, fuzz))
            compare_tasks(fuzz, before_tasks, tasks_before(reader))
        finally:
            left = remove_everything(reader, fuzz)
    for line in fuzz.broken[:20]:
        print("broken promise:", line)
    assert not left, f"the fuzzing left records behind on the BBS: {left}"


def run_moves(fuzz: Fuzz, seconds: float) -> None:
    """EXAMPLES moves and ``seconds`` shared evenly among the kinds of move (none started past
    its kind's share of the time); malformed bodies go to the routes in turn, so a short run
    still spreads them."""
    sends = moves()
    routes = itertools.cycle(strategies.REQUESTS)
    prefixes = st.sampled_from([strategies.filled(request).SerializeToString()
                                for request, _ in strategies.REQUESTS.values()])
    sends["malformed"] = st.builds(lambda body: (next(routes), body), strategies.malformed_protobuf(prefixes))
    for kind, move in MOVES.items():
        moving(fuzz, move, sends[kind], time.monotonic() + seconds / len(MOVES))()


def moving(fuzz: Fuzz, move: Callable[[Fuzz, Any], None], drawn: st.SearchStrategy[Any],
           deadline: float) -> Callable[[], None]:
    """One kind of move as a Hypothesis test of its share of the examples (no shrinking: every
    request counts against the run's bound)."""
    every = settings(max_examples=max(1, EXAMPLES // len(MOVES)), phases=[Phase.generate], database=None,
                     deadline=None, suppress_health_check=list(HealthCheck))

    @every
    @given(value=drawn)
    def one(value: Any) -> None:
        if time.monotonic() < deadline:
            move(fuzz, value)

    return seed(SEED)(one) if SEED is not None else one


# -- the moves ------------------------------------------------------------------------------------
def call(fuzz: Fuzz, route: str, send: Any, expect: str | None = None) -> bool:
    """Send one request; True when it was answered as ``expect`` (None: accepted). A broken
    promise is recorded here for anything else; the caller records a kept one."""
    try:
        send()
    except BBSHTTPError as e:
        fuzz.kept(f"{route}: HTTP {e.status}", str(e)[:200])
        return False
    except BBSError as e:
        if e.type == expect:
            return True
        what = "refused a valid request" if expect is None else f"answered {e.type}, not {expect}"
        fuzz.kept(f"{route}: {what}", f"{e.type}: {e.message}"[:200])
        return False
    except BBSClientError as e:
        fuzz.kept(f"{route}: no answer ({e.outcome})", str(e)[:200])
        return False
    if expect is not None:
        fuzz.kept(f"{route}: accepted what it must refuse ({expect})")
        return False
    return True


def desire_lrp(fuzz: Fuzz, lrp: models.DesiredLRP) -> None:
    lrp.process_guid = fuzz.guid()
    fuzz.lrps.append(lrp.process_guid)
    if not call(fuzz, "DesireDesiredLRP", lambda: fuzz.bbs.desire_lrp(lrp)):
        return
    stored = read_lrp(fuzz, lrp.process_guid)
    if stored is not None:
        stored.ClearField("modification_tag")
        same = as_bytes(stored) == as_bytes(lrp)
        fuzz.kept(None if same else "DesiredLRP read back differs from what was desired", lrp.process_guid)


def desire_task(fuzz: Fuzz, request: models.DesireTaskRequest) -> None:
    guid = request.task_guid = fuzz.guid()
    fuzz.tasks.append(guid)
    if not call(fuzz, "DesireTask", lambda: fuzz.bbs.desire_task(guid, DOMAIN, request.task_definition)):
        return
    try:
        stored = fuzz.bbs.task_by_guid(guid)
    except BBSClientError as e:
        fuzz.kept("TaskByGuid: the Task just desired cannot be read", str(e)[:200])
        return
    same = as_bytes(stored.task_definition) == as_bytes(request.task_definition) and stored.domain == DOMAIN
    fuzz.kept(None if same else "Task read back differs from what was desired", guid)


def update(fuzz: Fuzz, change: models.DesiredLRPUpdate) -> None:
    own = [g for g in fuzz.lrps if g not in fuzz.sentinels]
    if not own:
        return
    guid = own[fuzz.serial % len(own)]
    before = read_lrp(fuzz, guid, quiet=True)
    if before is None:  # its desire was refused (already recorded)
        return
    if not call(fuzz, "UpdateDesireLRP", lambda: fuzz.bbs.update_desired_lrp(guid, change)):
        return
    stored = read_lrp(fuzz, guid)
    if stored is None:
        return
    expected = strategies.updated_desired_lrp(before, change)
    for message in (stored, expected):
        message.ClearField("modification_tag")
    fuzz.kept(None if as_bytes(stored) == as_bytes(expected) else "UpdateDesireLRP changed what it was not "
              "asked to, or not what it was", guid)


def invalid_lrp(fuzz: Fuzz, invalid: strategies.Invalid) -> None:
    lrp = invalid.message
    lrp.process_guid = fuzz.guid() + (bad_char(fuzz) if invalid.field == "process_guid" else "")
    fuzz.lrps.append(lrp.process_guid)
    body = models.DesireLRPRequest(desired_lrp=lrp).SerializeToString()
    if call(fuzz, "DesireDesiredLRP", posting(fuzz, "DesireDesiredLRP", body), "InvalidRequest"):
        stored = fuzz.bbs.desired_lrps(process_guids=[lrp.process_guid])
        fuzz.kept("DesireDesiredLRP: stored what it refused" if stored else None, invalid.field)


def invalid_task(fuzz: Fuzz, invalid: strategies.Invalid) -> None:
    request = invalid.message
    request.task_guid = fuzz.guid() + (bad_char(fuzz) if invalid.field == "task_guid" else "")
    fuzz.tasks.append(request.task_guid)
    body = request.SerializeToString()
    if not call(fuzz, "DesireTask", posting(fuzz, "DesireTask", body), "InvalidRequest"):
        return
    try:
        fuzz.bbs.task_by_guid(request.task_guid)
    except BBSError as e:
        fuzz.kept(None if e.type == "ResourceNotFound" else f"TaskByGuid: answered {e.type}", e.message[:200])
    except BBSClientError as e:
        fuzz.kept(f"TaskByGuid: no answer ({e.outcome})", str(e)[:200])
    else:
        fuzz.kept("DesireTask: stored what it refused", invalid.field)


def invalid_update(fuzz: Fuzz, invalid: strategies.Invalid) -> None:
    guid = fuzz.sentinels[fuzz.serial % len(fuzz.sentinels)]  # unchanged at the end, or a broken promise
    fuzz.serial += 1
    body = models.UpdateDesiredLRPRequest(process_guid=guid, update=invalid.message).SerializeToString()
    if call(fuzz, "UpdateDesireLRP", posting(fuzz, "UpdateDesireLRP", body), "InvalidRequest"):
        fuzz.kept(None)


def existing_guid(fuzz: Fuzz, lrp: models.DesiredLRP) -> None:
    lrp.process_guid = fuzz.sentinels[fuzz.serial % len(fuzz.sentinels)]
    fuzz.serial += 1
    if call(fuzz, "DesireDesiredLRP", lambda: fuzz.bbs.desire_lrp(lrp), "ResourceExists"):
        fuzz.kept(None)


def malformed(fuzz: Fuzz, route_and_body: tuple[str, bytes]) -> None:
    route, body = route_and_body
    if call(fuzz, route, posting(fuzz, route, body), "InvalidRequest"):
        fuzz.kept(None)


MOVES = {"desire lrp": desire_lrp, "desire task": desire_task, "update": update, "invalid lrp": invalid_lrp,
         "invalid task": invalid_task, "invalid update": invalid_update, "existing guid": existing_guid,
         "malformed": malformed}


def posting(fuzz: Fuzz, route: str, body: bytes) -> Callable[[], Any]:
    """Sending ``body`` as it is to ``route`` (for what the typed client methods cannot build)."""
    return lambda: fuzz.bbs.post(route, body, strategies.REQUESTS[route][1])


def bad_char(fuzz: Fuzz) -> str:
    return BAD_GUID_CHARS[fuzz.serial % len(BAD_GUID_CHARS)]


def read_lrp(fuzz: Fuzz, guid: str, quiet: bool = False) -> models.DesiredLRP | None:
    try:
        return fuzz.bbs.desired_lrp_by_process_guid(guid)
    except BBSClientError as e:
        if not quiet:
            fuzz.kept("DesiredLRPByProcessGuid: the DesiredLRP just written cannot be read", str(e)[:200])
        return None


def as_bytes(message: Any) -> bytes:
    return message.SerializeToString(deterministic=True)


# -- before and after -------------------------------------------------------------------------------
def desired_before(reader: Any, fuzz: Fuzz) -> dict[str, bytes]:
    """Every DesiredLRP outside the fuzz domain, and this run's sentinels, serialized."""
    return {lrp.process_guid: as_bytes(lrp) for lrp in reader.desired_lrps()
            if lrp.domain != DOMAIN or lrp.process_guid in fuzz.sentinels}


def tasks_before(reader: Any) -> dict[str, bytes]:
    """Every Task outside the fuzz domain: what was desired (guid, domain, definition)."""
    return {t.task_guid: as_bytes(models.DesireTaskRequest(task_guid=t.task_guid, domain=t.domain,
                                                           task_definition=t.task_definition))
            for t in reader.tasks() if t.domain != DOMAIN}


def compare_lrps(fuzz: Fuzz, before: dict[str, bytes], after: dict[str, bytes]) -> None:
    for guid, data in before.items():
        if guid not in after:
            fuzz.kept("a DesiredLRP desired before the fuzzing is gone", guid)
        else:
            changed = after[guid] != data
            fuzz.kept("a DesiredLRP desired before the fuzzing changed" if changed else None, guid)


def compare_tasks(fuzz: Fuzz, before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """A Task leaves the BBS when it is done (Diego's normal), so only those still there count."""
    for guid in before.keys() & after.keys():
        fuzz.kept(None if after[guid] == before[guid] else "a Task desired before the fuzzing changed", guid)


def remove_everything(reader: Any, fuzz: Fuzz) -> list[str]:
    """Remove every DesiredLRP and Task this run sent (ignoring those never stored); what is
    still there afterwards."""
    for guid in fuzz.lrps:
        with contextlib.suppress(BBSClientError):
            reader.remove_desired_lrp(guid)
    for guid in fuzz.tasks:
        for step in (reader.cancel_task, reader.resolving_task, reader.delete_task):
            with contextlib.suppress(BBSClientError):
                step(guid)
    mine = set(fuzz.lrps) | set(fuzz.tasks)
    left = [f"DesiredLRP {lrp.process_guid}" for lrp in reader.desired_lrps(process_guids=fuzz.lrps or None)
            if lrp.process_guid in mine]
    left += [f"Task {t.task_guid}" for t in reader.tasks() if t.task_guid in mine]
    return left
