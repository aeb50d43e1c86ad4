"""Diego's own workloads: the stress-test app mix (cedar, 250k protocol) and fezzik's shapes.

The app mix (``docs/diego-facts.md`` §14.5), per batch of 20 apps / 25 instances / 2848 MB /
1.00 req/s:

============  ============  ======  ========================================
kind          apps × inst.  memory  request rate (per instance)
============  ============  ======  ========================================
light         9 × 1         32 MB   0.03 rps
light-group   1 × 4         32 MB   0.03 rps
medium        6 × 1         128 MB  0.06 rps
medium-group  1 × 3         128 MB  0.06 rps
heavy         1 × 1         1024 MB 0.07 rps
crashing      2 × 1         128 MB  crashes at a random time in 30–360 s
============  ============  ======  ========================================

Crashing apps carry ``MIN_SECONDS_TIL_CRASH=30`` and ``MAX_SECONDS_TIL_CRASH=360`` in their
environment, as Diego's stress-test app reads them. Disk is 100 MB, as in every cedar manifest.
Diego's scale rule: N units of 1.25 cells run 10·N batches (250·N instances, 200 per cell).

fezzik (``docs/diego-facts.md`` §15.1): Tasks of 64 MB memory / 64 MB disk writing their guid to
``/tmp/output`` (the result file); one LRP of 64 MB memory / 128 MB disk with ``factor × cells``
instances.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_diego.bbs import models
from pytest_diego.workload.builders import DOMAIN, desired_lrp, task_definition


@dataclass(frozen=True)
class AppKind:
    name: str
    apps: int
    instances: int
    memory_mb: int
    request_rate: float  # requests per second per instance; 0 for crashing apps
    crashing: bool = False


APP_MIX = (
    AppKind("light", 9, 1, 32, 0.03),
    AppKind("light-group", 1, 4, 32, 0.03),
    AppKind("medium", 6, 1, 128, 0.06),
    AppKind("medium-group", 1, 3, 128, 0.06),
    AppKind("heavy", 1, 1, 1024, 0.07),
    AppKind("crashing", 2, 1, 128, 0.0, crashing=True),
)
CRASH_ENV = {"MIN_SECONDS_TIL_CRASH": "30", "MAX_SECONDS_TIL_CRASH": "360"}
MIX_DISK_MB = 100  # every cedar manifest asks for "disk: 100M" (docs/diego-facts.md §15.2)


@dataclass(frozen=True)
class App:
    """One app of the mix: its DesiredLRP and the traffic it should get (req/s, all instances)."""

    kind: AppKind
    desired_lrp: models.DesiredLRP
    request_rate: float


def app_mix_batch(batch: int, prefix: str = "mix", domain: str = DOMAIN) -> list[App]:
    """One batch of Diego's stress-test mix; process guids ``<prefix>-<batch>-<kind>-<i>``."""
    apps = []
    for kind in APP_MIX:
        for i in range(kind.apps):
            guid = f"{prefix}-{batch}-{kind.name}-{i}"
            lrp = desired_lrp(guid, domain=domain, instances=kind.instances, memory_mb=kind.memory_mb,
                              disk_mb=MIX_DISK_MB, env=CRASH_ENV if kind.crashing else None)
            apps.append(App(kind, lrp, kind.request_rate * kind.instances))
    return apps


def app_mix(batches: int, prefix: str = "mix", domain: str = DOMAIN) -> list[App]:
    """``batches`` batches of the mix (Diego's scale rule: 10 batches per 1.25 cells)."""
    return [app for b in range(batches) for app in app_mix_batch(b, prefix, domain)]


def fezzik_task_definition(task_guid: str, completion_callback_url: str = "") -> models.TaskDefinition:
    """fezzik's lightweight Task: 64 MB / 64 MB, ``echo <guid> > /tmp/output`` as its result."""
    return task_definition(memory_mb=64, disk_mb=64, command=f"echo {task_guid} > /tmp/output",
                           result_file="/tmp/output", completion_callback_url=completion_callback_url,
                           log_guid=task_guid)


def fezzik_lrp(process_guid: str, instances: int, domain: str = DOMAIN) -> models.DesiredLRP:
    """fezzik's LRP: ``instances`` (factor × cells) of 64 MB memory / 128 MB disk."""
    return desired_lrp(process_guid, domain=domain, instances=instances, memory_mb=64, disk_mb=128)
