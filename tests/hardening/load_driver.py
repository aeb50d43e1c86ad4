"""One load process against a BBS: ``python load_driver.py URL SECONDS WORKER OUT.json [MAX_OPS]``.

Loops over whole Diego lifecycles until SECONDS pass or MAX_OPS requests were sent: a Task
desired, read, cancelled, resolved and deleted; a DesiredLRP desired, read, updated and removed;
list calls, domain upserts and pings; plus two designed errors per loop (a duplicate desire:
ResourceExists; a read of a deleted Task: ResourceNotFound). The store stays the same size, so
the BBS's memory must stay flat. Writes per-route counts by outcome and latencies to OUT.json.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter, defaultdict

from pytest_diego.bbs import BBSClient, models
from pytest_diego.bbs.errors import BBSError
from pytest_diego.workload.builders import desired_lrp, task_definition

DESIGNED = {("DesireTask", "ResourceExists"), ("TaskByGuid", "ResourceNotFound")}
"""(route, in-band error) pairs the loop asks for on purpose."""


def main(url: str, seconds: float, worker: str, out: str, max_ops: int = 2_000_000) -> None:
    outcomes: Counter[str] = Counter()
    latencies: dict[str, list[float]] = defaultdict(list)

    def observe(route: str, started_at: float, duration: float, outcome: str) -> None:
        outcomes[f"{route} {outcome}"] += 1
        latencies[route].append(duration)

    definition = task_definition()
    deadline = time.monotonic() + seconds
    loops = 0
    with BBSClient(url, timeout=30.0, observer=observe) as client:
        while time.monotonic() < deadline and sum(outcomes.values()) < max_ops:
            guid = f"{worker}-{loops}"
            client.desire_task(guid, "load", definition)
            _expect_error(lambda g=guid: client.desire_task(g, "load", definition), "ResourceExists")
            client.task_by_guid(guid)
            client.cancel_task(guid)
            client.resolving_task(guid)
            client.delete_task(guid)
            _expect_error(lambda g=guid: client.task_by_guid(g), "ResourceNotFound")
            client.desire_lrp(desired_lrp(f"lrp-{guid}", domain="load", instances=1))
            client.desired_lrp_by_process_guid(f"lrp-{guid}")
            client.update_desired_lrp(f"lrp-{guid}", models.DesiredLRPUpdate(annotation=f"loop {loops}"))
            client.remove_desired_lrp(f"lrp-{guid}")
            client.tasks(domain="load")
            client.desired_lrps(domain="load")
            client.upsert_domain("load", 0)
            client.ping()
            loops += 1
    with open(out, "w") as f:
        json.dump({"worker": worker, "loops": loops, "outcomes": dict(outcomes),
                   "latencies": dict(latencies)}, f)


def _expect_error(call, error_type: str) -> None:
    try:
        call()
    except BBSError as e:
        if e.type != error_type:
            raise
        return
    raise AssertionError(f"expected {error_type}")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4],
         *(int(a) for a in sys.argv[5:6]))
