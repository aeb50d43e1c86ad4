"""Steps every perf suite shares: Diego's timing on the target, bounded waits, the work to
desire (with a real Diego's rootfs and commands), per-shard cleanup.

Kept out of the test modules so each module reads as its scenario: what is desired, which fault
is delivered, which SLOs judge it. Nothing here hides a result: a wait that runs out fails the
test with what was still missing. What a scenario watches is in ``_observers``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from pytest_diego.bbs import models
from pytest_diego.bbs.errors import BBSClientError, BBSError
from pytest_diego.cluster.timing import Timing
from pytest_diego.plugin import SESSION

_CONFIG: list[pytest.Config] = []


def configure(config: pytest.Config) -> None:
    """Remember the run's config (called by conftest) so modules can derive bounds at import."""
    _CONFIG[:] = [config]


def timing() -> Timing:
    """Diego's intervals as the target runs them: the embedded cluster's ``--diego-time-scale``;
    Diego's defaults (scale 1) on a real Diego."""
    if not _CONFIG:
        return Timing(1.0)
    target = _CONFIG[0].stash[SESSION].settings.target
    return Timing(float(getattr(target, "time_scale", 1.0)))


def ini(name: str, default: str) -> str:
    """A perf_suites ini value (``perf_rootfs``...), else ``default``."""
    if not _CONFIG:
        return default
    value = _CONFIG[0].getini(name)
    return str(value) if value else default


def seconds(value: float) -> str:
    """A bound as an SLO literal: ``12.5s``."""
    return f"{value:.3g}s"


# -- waiting ---------------------------------------------------------------------------------------

def wait_until(what: str, missing: Callable[[], str | None], timeout: float, interval: float = 0.25,
               on_poll: Callable[[], None] | None = None) -> float:
    """Poll ``missing()`` (None once done, else what is still missing) until done; return the
    seconds it took. Fails the test after ``timeout`` naming what was still missing."""
    start = time.monotonic()
    last = "nothing observed yet"
    while True:
        try:
            left = missing()
        except (BBSError, BBSClientError) as exc:  # an outage is a reason to keep polling
            left = f"the BBS did not answer: {exc}"
        if left is None:
            return time.monotonic() - start
        last = left
        if on_poll is not None:
            on_poll()
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what}: not done after {timeout:.1f}s; still missing: {last}", pytrace=False)
        time.sleep(interval)


def sample(items: Iterable[str], limit: int = 5) -> str:
    items = sorted(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def instance_key(lrp: models.ActualLRP) -> str:
    return f"{lrp.actual_lrp_key.process_guid}/{lrp.actual_lrp_key.index}"


def describe(lrp: models.ActualLRP) -> str:
    error = f", placement_error={lrp.placement_error!r}" if lrp.placement_error else ""
    cell = lrp.actual_lrp_instance_key.cell_id or "no cell"
    return f"{instance_key(lrp)} ({lrp.state} on {cell}{error})"


def desired_instances(bbs: Any, domain: str) -> dict[str, int]:
    """process_guid -> desired instance count, for every DesiredLRP of ``domain``."""
    infos = bbs.desired_lrp_scheduling_infos(domain=domain)
    return {d.desired_lrp_key.process_guid: d.instances for d in infos}


def missing_instances(bbs: Any, domain: str, exclude: Iterable[str] = (),
                      dead_cells: Iterable[str] = ()) -> list[str]:
    """Every desired instance of ``domain`` (apps in ``exclude`` left out) not RUNNING right now;
    an instance RUNNING on one of ``dead_cells`` is missing too (the BBS may not know yet)."""
    exclude, dead = set(exclude), set(dead_cells)
    wanted = {p: n for p, n in desired_instances(bbs, domain).items() if p not in exclude}
    running: dict[str, set[int]] = {}
    others: dict[str, models.ActualLRP] = {}
    for lrp in bbs.actual_lrps(domain=domain):
        key = lrp.actual_lrp_key
        if (lrp.state == "RUNNING" and lrp.presence == models.ActualLRP.ORDINARY
                and lrp.actual_lrp_instance_key.cell_id not in dead):
            running.setdefault(key.process_guid, set()).add(key.index)
        elif instance_key(lrp) not in others or lrp.presence == models.ActualLRP.ORDINARY:
            others[instance_key(lrp)] = lrp
    missing = []
    for guid, count in wanted.items():
        for index in range(count):
            if index not in running.get(guid, set()):
                lrp = others.get(f"{guid}/{index}")
                missing.append(describe(lrp) if lrp is not None else f"{guid}/{index} (no ActualLRP)")
    return missing


# -- cleanup ---------------------------------------------------------------------------------------

def remove_lrps(bbs: Any, process_guids: Iterable[str]) -> None:
    """RemoveDesiredLRP for each; already gone is fine."""
    for guid in process_guids:
        with contextlib.suppress(BBSError):
            bbs.remove_desired_lrp(guid)


def resolve_tasks(bbs: Any, task_guids: Iterable[str], cancel: bool = False) -> None:
    """What a Task's consumer does once it read the result: ResolvingTask then DeleteTask
    (``cancel``: CancelTask first, so a Task still pending or running is completed and removed)."""
    for guid in task_guids:
        if cancel:
            with contextlib.suppress(BBSError):
                bbs.cancel_task(guid)
        with contextlib.suppress(BBSError):
            bbs.resolving_task(guid)
        with contextlib.suppress(BBSError):
            bbs.delete_task(guid)


@contextlib.contextmanager
def cleanup(diego: Any, process_guids: Iterable[str] = (), task_guids: Iterable[str] = ()) -> Iterator[None]:
    """Whatever happens in the scenario, this shard removes what it desired, so the next scenario
    starts on an empty cluster (the run shares one cluster) and no shard removes another's work."""
    try:
        yield
    finally:
        with contextlib.suppress(BBSError, BBSClientError), diego.client(timeout=10.0) as client:
            remove_lrps(client, process_guids)
            resolve_tasks(client, task_guids, cancel=True)


def soak_duration(default: str) -> str:
    """The fill-capacity hold time: ``--soak-duration``, else ``default``."""
    if not _CONFIG:
        return default
    return str(_CONFIG[0].getoption("soak_duration", None) or default)


# -- the work, with a real Diego's rootfs and commands when configured ----------------------------

def with_target_action(lrp: models.DesiredLRP) -> models.DesiredLRP:
    """A DesiredLRP from the builders, with ``perf_rootfs``/``perf_lrp_command`` applied."""
    rootfs, command = ini("perf_rootfs", ""), ini("perf_lrp_command", "")
    if rootfs:
        lrp.root_fs = rootfs
    if command:
        del lrp.action.run_action.args[:]
        lrp.action.run_action.args.extend(["-c", command])
    return lrp


def burst_task(task_guid: str) -> models.TaskDefinition:
    """fezzik's Task (64 MB / 64 MB, its guid as the result), with the configured rootfs/command."""
    from pytest_diego.workload import fezzik_task_definition

    definition = fezzik_task_definition(task_guid)
    rootfs, command = ini("perf_rootfs", ""), ini("perf_task_command", "")
    if rootfs:
        definition.root_fs = rootfs
    if command:
        del definition.action.run_action.args[:]
        definition.action.run_action.args.extend(["-c", command.replace("{task_guid}", task_guid)])
    return definition


def hostname(diego: Any, process_guid: str) -> str:
    """The app route of ``process_guid`` under the target's apps domain."""
    return f"{process_guid}.{diego.apps_domain}"


def routed_at(lrp: models.DesiredLRP, host: str) -> models.DesiredLRP:
    """``lrp`` with its cf-router route set to ``host`` (the target's apps domain)."""
    from pytest_diego.workload import cf_routes

    port = lrp.ports[0] if lrp.ports else 8080
    lrp.routes.CopyFrom(cf_routes([host], port))
    return lrp

