"""What "the cluster converged" means, and the work kept running while faults land.

Converged: the BBS answers; every DesiredLRP has exactly one ORDINARY RUNNING instance per
index, each on a cell whose process is alive and whose presence the BBS lists; the router's
table has, for every app hostname, exactly the addresses of those instances; every Task the
BBS acknowledged is present, or has completed (its completion callback arrived: the BBS then
deletes it, as Diego does for Cloud Controller's Tasks), and none is still Pending.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import requests

from pytest_diego.bbs import models
from pytest_diego.bbs.errors import BBSClientError
from pytest_diego.cluster import EmbeddedCluster
from pytest_diego.measure.setcheck import SetCheck
from pytest_diego.workload.builders import app_hostname, task_definition
from tests.support.stub_server import Answer, Recorded, StubServer

ORDINARY = models.ActualLRP.Presence.Value("ORDINARY")
PENDING = models.Task.State.Value("Pending")


class Callbacks:
    """Receives Tasks' completion callbacks on 127.0.0.1; ``completed`` holds their guids."""

    def __init__(self) -> None:
        self.completed: set[str] = set()
        self._server = StubServer(self._receive, path="/completed")
        self.url = self._server.url

    def _receive(self, request: Recorded, handler: object) -> Answer:
        self.completed.add(json.loads(request.body or b"{}").get("task_guid", ""))
        return 200, {}, b""

    def close(self) -> None:
        self._server.close()


def divergence(cluster: EmbeddedCluster, lrps: dict[str, int], tasks: SetCheck,
               completed: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Why the cluster has not converged yet; empty when it has."""
    problems: list[str] = []
    with cluster.client(timeout=3) as client:
        present = {c.cell_id for c in client.cells()}
        alive = {c.cell_id for c in cluster.cells if c.alive}
        actuals = client.actual_lrps()
        found_tasks = {t.task_guid: t for t in client.tasks(domain="hardening")}
    running: dict[str, dict[int, models.ActualLRP]] = {g: {} for g in lrps}
    for a in actuals:
        key = a.actual_lrp_key
        if key.process_guid not in lrps:
            continue
        if a.presence != ORDINARY or a.state != "RUNNING":
            problems.append(f"{key.process_guid}/{key.index} is {a.state} "
                            f"({models.ActualLRP.Presence.Name(a.presence)})")
            continue
        cell = a.actual_lrp_instance_key.cell_id
        if cell not in present or cell not in alive:
            problems.append(f"{key.process_guid}/{key.index} RUNNING on a lost cell {cell}")
        running[key.process_guid][key.index] = a
    for guid, instances in lrps.items():
        if sorted(running[guid]) != list(range(instances)):
            problems.append(f"{guid} runs indices {sorted(running[guid])} of {instances}")
    table = requests.get(f"{cluster.router_status_url}/routes", timeout=3).json()
    for guid in lrps:
        want = {f"{a.actual_lrp_net_info.address}:{a.actual_lrp_net_info.ports[0].host_port}"
                for a in running[guid].values()}
        have = {e["address"] for e in table.get(app_hostname(guid), [])}
        if want != have:
            problems.append(f"router has {sorted(have)} for {guid}, instances are at {sorted(want)}")
    lost = tasks.acknowledged - set(found_tasks) - set(completed)
    if lost:
        problems.append(f"{len(lost)} acknowledged Tasks missing, e.g. {sorted(lost)[:3]}")
    pending = [g for g in tasks.acknowledged if g in found_tasks and found_tasks[g].state == PENDING]
    if pending:
        problems.append(f"{len(pending)} Tasks still Pending, e.g. {sorted(pending)[:3]}")
    return problems


class TaskLoad:
    """Desires Tasks from a thread (bounded in count and time) and records what the BBS
    acknowledged, for Jepsen's set check."""

    def __init__(self, cluster: EmbeddedCluster, prefix: str, callbacks: Callbacks, rate: float = 20.0,
                 limit: int = 2000) -> None:
        self.cluster = cluster
        self.callbacks = callbacks
        self.prefix = prefix
        self.interval = 1.0 / rate
        self.limit = limit
        self.check = SetCheck()
        self.outcomes: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"tasks-{prefix}", daemon=True)

    def __enter__(self) -> TaskLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        definition = task_definition(memory_mb=8, disk_mb=8, completion_callback_url=self.callbacks.url)
        with self.cluster.client(timeout=2) as client:
            for i in range(self.limit):
                if self._stop.is_set():
                    return
                guid = f"{self.prefix}-{i}"
                self.check.attempt(guid)
                try:
                    client.desire_task(guid, "hardening", definition)
                    self.check.acknowledge(guid)
                    self.outcomes["ok"] += 1
                except BBSClientError as e:
                    self.outcomes[type(e).__name__] += 1
                    if self._stop.wait(0.1):
                        return
                self._stop.wait(self.interval)


def converge(cluster: EmbeddedCluster, lrps: dict[str, int], tasks: SetCheck, timeout: float,
             completed: set[str] | frozenset[str] = frozenset()) -> float:
    """Seconds until ``divergence`` is empty; AssertionError with the last reasons after ``timeout``."""
    started = time.monotonic()
    problems: list[str] = ["not checked yet"]
    while time.monotonic() - started < timeout:
        try:
            problems = divergence(cluster, lrps, tasks, completed)
        except (BBSClientError, requests.RequestException) as e:
            problems = [f"{type(e).__name__}: {e}"]
        if not problems:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"the cluster did not converge within {timeout:g} s: {problems[:6]}")
