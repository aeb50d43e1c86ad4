"""How the processes of one run meet: barriers, shards and verdicts, live status, the cluster.

The run's owner (the single process, or xdist's controller) keeps a ``Hub``. Every process that
runs scenarios talks to it through a ``Coordinator``: the single process directly
(``LocalCoordinator``); an xdist worker over an execnet channel the controller opens on the
worker's own gateway and hands over in ``workerinput`` (``ChannelCoordinator``). That is xdist's
own connection, so workers on other hosts (``--tx ssh=...``, ``--tx socket=...``) take part like
local ones, and no file is shared between them. Messages are JSON text.

Requests (worker -> owner) and what the owner answers:

- ``manifest``   the scenarios a worker collected (no answer);
- ``barrier``    arrive at a phase of a scenario, answered once every live member arrived (or the
                 barrier timed out) with the members that arrived;
- ``shard``      a finished shard, answered (when asked) once every participant's shard is in
                 with the scenario's ``Judgement``;
- ``status``     the live status line (no answer);
- ``cluster``    the embedded cluster's description; ``fault``: deliver a fault on it.

The hub is event driven (an answer is a callback), so the controller never blocks xdist's
receiving thread waiting for a slow worker; a timer thread releases barriers whose members
neither arrive nor die within the barrier timeout.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pytest_diego.pytest_support.judgement import Judgement

Reply = Callable[[Any], None]
TICK = 0.1


class CoordinationError(RuntimeError):
    """The owner refused a request or could not be reached; the message says which and why."""


class Coordinator(Protocol):
    """A scenario process's side of the run (see the module docstring)."""

    me: str

    def manifest(self, scenarios: list[str], needs_cluster: bool) -> None: ...
    def barrier(self, nodeid: str, phase: str, members: list[str]) -> list[str]: ...
    def shard(self, nodeid: str, shard: dict[str, Any], wait: bool) -> Judgement | None: ...
    def status(self, status: dict[str, Any]) -> None: ...
    def cluster_description(self) -> dict[str, Any]: ...
    def fault(self, kind: str, target: str) -> str: ...


class Owner(Protocol):
    """What the hub needs from the run's owner."""

    def judge(self, nodeid: str, shards: dict[str, dict[str, Any]], problems: list[str]) -> Judgement: ...
    def show_status(self, status: dict[str, Any]) -> None: ...
    def cluster_description(self) -> dict[str, Any]: ...
    def fault(self, kind: str, target: str) -> str: ...


@dataclass
class _Barrier:
    members: list[str]
    deadline: float
    arrived: dict[str, Reply | None] = field(default_factory=dict)
    result: list[str] | None = None


@dataclass
class _Gathering:
    participants: list[str]
    deadline: float
    shards: dict[str, dict[str, Any]] = field(default_factory=dict)
    waiting: list[Reply] = field(default_factory=list)
    judgement: Judgement | None = None


class Hub:
    """The owner's side: barriers and shard gathering for every scenario of the run."""

    def __init__(self, owner: Owner, timeout: float) -> None:
        self.owner = owner
        self.timeout = timeout
        self.manifests: dict[str, dict[str, Any]] = {}
        self.dead: dict[str, str] = {}
        self._barriers: dict[tuple[str, str], _Barrier] = {}
        self._participants: dict[str, list[str]] = {}
        self._gatherings: dict[str, _Gathering] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    # -- lifetime ---------------------------------------------------------------------------
    def start(self) -> None:
        self._timer = threading.Thread(target=self._expire_loop, name="diego-hub", daemon=True)
        self._timer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)

    # -- requests ---------------------------------------------------------------------------
    def handle(self, worker: str, op: str, payload: Mapping[str, Any], reply: Reply | None) -> None:
        """One request from ``worker``; ``reply`` answers it (now or later)."""
        if op == "manifest":
            with self._lock:
                self.manifests[worker] = {"scenarios": list(payload["scenarios"]),
                                          "needs_cluster": bool(payload["needs_cluster"])}
        elif op == "barrier":
            self._arrive(payload["nodeid"], payload["phase"], worker, list(payload["members"]), reply)
        elif op == "shard":
            self._submit(payload["nodeid"], worker, dict(payload["shard"]), reply)
        elif op == "status":
            self.owner.show_status(dict(payload))
        elif op == "cluster":
            _answer(reply, self.owner.cluster_description())
        elif op == "fault":
            _answer(reply, self.owner.fault(payload["kind"], payload["target"]))
        else:
            raise CoordinationError(f"unknown request {op!r}: controller and worker must run the same "
                                    "pytest-diego version")

    def scenario_ids(self) -> list[str]:
        """Every scenario any worker collected, in collection order."""
        with self._lock:
            ids: list[str] = []
            for manifest in self.manifests.values():
                ids.extend(i for i in manifest["scenarios"] if i not in ids)
            return ids

    def needs_cluster(self) -> bool:
        with self._lock:
            return any(m["needs_cluster"] for m in self.manifests.values())

    def worker_died(self, worker: str, reason: str) -> None:
        """A worker is gone: nobody waits for it any more."""
        with self._lock:
            self.dead[worker] = reason
        self._settle()

    def unjudged(self) -> list[str]:
        """Scenarios with shards whose judgement never came (the run was interrupted)."""
        with self._lock:
            return [n for n, g in self._gatherings.items() if g.judgement is None]

    def judge_now(self, nodeid: str, problem: str) -> Judgement:
        """Judge what arrived of a scenario that cannot finish (interrupted run)."""
        with self._lock:
            gathering = self._gatherings[nodeid]
            return self._judge(nodeid, gathering, [problem])

    # -- barriers ---------------------------------------------------------------------------
    def _arrive(self, nodeid: str, phase: str, worker: str, members: list[str], reply: Reply | None) -> None:
        with self._lock:
            barrier = self._barriers.get((nodeid, phase))
            if barrier is None:
                barrier = self._barriers[(nodeid, phase)] = _Barrier(
                    members, time.monotonic() + self.timeout)
            if barrier.result is not None:  # too late: the others have gone on without it
                answer = list(barrier.result)
            else:
                barrier.arrived[worker] = reply
                answer = None
        if answer is not None:
            _answer(reply, answer)
        self._settle()

    def _release(self, key: tuple[str, str], barrier: _Barrier) -> list[tuple[Reply | None, Any]]:
        barrier.result = [m for m in barrier.members if m in barrier.arrived]
        if key[1] == "join":
            self._participants[key[0]] = list(barrier.result)
        return [(reply, list(barrier.result)) for reply in barrier.arrived.values()]

    # -- shards -----------------------------------------------------------------------------
    def _submit(self, nodeid: str, worker: str, shard: dict[str, Any], reply: Reply | None) -> None:
        with self._lock:
            gathering = self._gatherings.get(nodeid)
            if gathering is None:
                participants = self._participants.get(nodeid, [worker])
                deadline = time.monotonic() + self.timeout
                gathering = self._gatherings[nodeid] = _Gathering(participants, deadline)
            gathering.shards[worker] = shard
            if reply is not None:
                gathering.waiting.append(reply)
            judged = gathering.judgement
        if judged is not None and reply is not None:
            _answer(reply, judged.to_dict())
        self._settle()

    def _judge(self, nodeid: str, gathering: _Gathering, problems: list[str]) -> Judgement:
        judgement = self.owner.judge(nodeid, dict(gathering.shards), problems)
        gathering.judgement = judgement
        return judgement

    # -- settling: release whatever can be released -------------------------------------------
    def _settle(self) -> None:
        answers: list[tuple[Reply | None, Any]] = []
        with self._lock:
            now = time.monotonic()
            for key, barrier in self._barriers.items():
                if barrier.result is not None:
                    continue
                # a member that sent its shard (its setup failed, or it skipped) arrives nowhere more
                gathering = self._gatherings.get(key[0])
                finished = gathering.shards if gathering is not None else {}
                waiting = [m for m in barrier.members
                           if m not in barrier.arrived and m not in self.dead and m not in finished]
                if not waiting or now > barrier.deadline:
                    answers += self._release(key, barrier)
            for nodeid, gathering in self._gatherings.items():
                if gathering.judgement is not None:
                    continue
                missing = [m for m in gathering.participants if m not in gathering.shards]
                waiting = [m for m in missing if m not in self.dead]
                if waiting and now <= gathering.deadline:
                    continue
                problems = [f"worker {m} died: {self.dead[m]}" for m in missing if m in self.dead]
                if waiting:
                    problems.append(f"worker {', '.join(waiting)} sent no measurements for {nodeid} "
                                    f"within {self.timeout:g}s (raise --diego-barrier-timeout if the "
                                    "partners are just slow)")
                judgement = self._judge(nodeid, gathering, problems)
                answers += [(reply, judgement.to_dict()) for reply in gathering.waiting]
                gathering.waiting.clear()
        for reply, answer in answers:
            _answer(reply, answer)

    def _expire_loop(self) -> None:
        while not self._stop.wait(TICK):
            self._settle()


def _answer(reply: Reply | None, answer: Any) -> None:
    if reply is not None:
        reply(answer)


class LocalCoordinator:
    """The single process: requests go straight to the hub, answers come back at once."""

    def __init__(self, hub: Hub, me: str = "main") -> None:
        self.hub = hub
        self.me = me

    def _ask(self, op: str, payload: dict[str, Any]) -> Any:
        answers: list[Any] = []
        self.hub.handle(self.me, op, payload, answers.append)
        if not answers:
            raise CoordinationError(f"{op} was not answered at once in a single process")
        return answers[0]

    def manifest(self, scenarios: list[str], needs_cluster: bool) -> None:
        self.hub.handle(self.me, "manifest", {"scenarios": scenarios, "needs_cluster": needs_cluster}, None)

    def barrier(self, nodeid: str, phase: str, members: list[str]) -> list[str]:
        return list(self._ask("barrier", {"nodeid": nodeid, "phase": phase, "members": members}))

    def shard(self, nodeid: str, shard: dict[str, Any], wait: bool) -> Judgement | None:
        if not wait:
            self.hub.handle(self.me, "shard", {"nodeid": nodeid, "shard": shard}, None)
            return None
        return Judgement.from_dict(self._ask("shard", {"nodeid": nodeid, "shard": shard}))

    def status(self, status: dict[str, Any]) -> None:
        self.hub.handle(self.me, "status", status, None)

    def cluster_description(self) -> dict[str, Any]:
        return dict(self._ask("cluster", {}))

    def fault(self, kind: str, target: str) -> str:
        return str(self._ask("fault", {"kind": kind, "target": target}))


class Channel(Protocol):
    """The part of an execnet channel the coordinator uses."""

    def send(self, item: Any) -> None: ...
    def receive(self, timeout: float | None = None) -> Any: ...


class ChannelCoordinator:
    """An xdist worker: requests over the channel the controller opened on this worker's gateway.

    One request waits at a time (a lock); an answer that arrives after its request timed out is
    recognised by its id and dropped.
    """

    def __init__(self, channel: Channel, me: str, timeout: float) -> None:
        self.channel = channel
        self.me = me
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _send(self, request_id: int | None, op: str, payload: dict[str, Any]) -> None:
        self.channel.send(json.dumps([request_id, op, payload]))

    def _ask(self, op: str, payload: dict[str, Any], timeout: float) -> Any:
        with self._lock:
            request_id = next(self._ids)
            self._send(request_id, op, payload)
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CoordinationError(f"the xdist controller did not answer {op} within {timeout:g}s")
                try:
                    answered, ok, answer = json.loads(self.channel.receive(timeout=left))
                except (EOFError, OSError) as exc:
                    raise CoordinationError(f"the xdist controller went away during {op}: {exc}") from exc
                except Exception as exc:  # execnet's channel.TimeoutError
                    if type(exc).__name__ == "TimeoutError":
                        continue
                    raise
                if answered != request_id:
                    continue  # a late answer to a request that timed out
                if not ok:
                    raise CoordinationError(str(answer))
                return answer

    def manifest(self, scenarios: list[str], needs_cluster: bool) -> None:
        self._send(None, "manifest", {"scenarios": scenarios, "needs_cluster": needs_cluster})

    def barrier(self, nodeid: str, phase: str, members: list[str]) -> list[str]:
        payload = {"nodeid": nodeid, "phase": phase, "members": members}
        return list(self._ask("barrier", payload, self.timeout + 60))

    def shard(self, nodeid: str, shard: dict[str, Any], wait: bool) -> Judgement | None:
        payload = {"nodeid": nodeid, "shard": shard}
        if not wait:
            self._send(None, "shard", payload)
            return None
        return Judgement.from_dict(self._ask("shard", payload, self.timeout + 60))

    def status(self, status: dict[str, Any]) -> None:
        self._send(None, "status", status)

    def cluster_description(self) -> dict[str, Any]:
        return dict(self._ask("cluster", {}, 600.0))

    def fault(self, kind: str, target: str) -> str:
        return str(self._ask("fault", {"kind": kind, "target": target}, 600.0))


def serve_channel(hub: Hub, worker: str, channel: Channel) -> Callable[[Any], None]:
    """The controller's callback for ``worker``'s channel: every request to the hub, every
    answer or error back. Slow requests (the cluster, faults) run on their own thread, so the
    gateway's receiving thread keeps delivering the worker's other messages."""

    def callback(message: Any) -> None:
        try:
            request_id, op, payload = json.loads(message)
        except (TypeError, ValueError):
            return  # the channel's end marker, or not ours

        def reply(answer: Any) -> None:
            if request_id is not None:
                channel.send(json.dumps([request_id, True, answer]))

        def run() -> None:
            try:
                hub.handle(worker, op, payload, reply)
            except Exception as exc:
                if request_id is not None:
                    channel.send(json.dumps([request_id, False, f"{type(exc).__name__}: {exc}"]))

        if op in ("cluster", "fault"):
            threading.Thread(target=run, name=f"diego-{op}-{worker}", daemon=True).start()
        else:
            run()

    return callback
