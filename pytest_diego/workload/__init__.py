"""What to ask Diego for: Task/LRP builders, Diego's app mixes, load runners, xdist shards."""

from pytest_diego.workload.builders import app_hostname, cf_routes, desired_lrp, run_action, task_definition
from pytest_diego.workload.mix import (
    APP_MIX,
    App,
    AppKind,
    app_mix,
    app_mix_batch,
    fezzik_lrp,
    fezzik_task_definition,
)
from pytest_diego.workload.runner import ClosedModel, OpenModel, RunResult, arrival_offsets
from pytest_diego.workload.shard import owns, shard

__all__ = [
    "APP_MIX",
    "App",
    "AppKind",
    "ClosedModel",
    "OpenModel",
    "RunResult",
    "app_hostname",
    "app_mix",
    "app_mix_batch",
    "arrival_offsets",
    "cf_routes",
    "desired_lrp",
    "fezzik_lrp",
    "fezzik_task_definition",
    "owns",
    "run_action",
    "shard",
    "task_definition",
]
