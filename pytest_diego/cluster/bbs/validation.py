"""Request validation as Diego's models do it (``models/*.go`` ``Validate()``).

A failure is an InvalidRequest whose message names every bad field in Diego's words
(``Invalid field: process_guid``), so a client can tell what to fix.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pytest_diego.bbs import models
from pytest_diego.cluster.bbs.errors import invalid_fields

GUID = re.compile(r"^[a-zA-Z0-9_-]+$")
MAX_ANNOTATION = 10 * 1024
MAX_ROUTES = 128 * 1024


def _check(fields: list[str]) -> None:
    if fields:
        raise invalid_fields(fields)


def _rootfs_ok(rootfs: str) -> bool:
    return bool(rootfs) and bool(urlsplit(rootfs).scheme)


def _action_set(action: models.Action) -> bool:
    return bool(action.ListFields())


def routes_size(routes: models.ProtoRoutes) -> int:
    return sum(len(k) + len(v) for k, v in routes.routes.items())


def desired_lrp(lrp: models.DesiredLRP) -> None:
    bad = []
    if not GUID.match(lrp.process_guid):
        bad.append("process_guid")
    if not lrp.domain:
        bad.append("domain")
    if not _rootfs_ok(lrp.root_fs):
        bad.append("rootfs")
    if lrp.instances < 0:
        bad.append("instances")
    if not lrp.HasField("action") or not _action_set(lrp.action):
        bad.append("action")
    if lrp.cpu_weight > 100:
        bad.append("cpu_weight")
    if len(lrp.annotation.encode()) > MAX_ANNOTATION:
        bad.append("annotation")
    for name in ("memory_mb", "disk_mb", "max_pids"):
        if getattr(lrp, name) < 0:
            bad.append(name)
    if routes_size(lrp.routes) > MAX_ROUTES:
        bad.append("routes")
    if not lrp.metric_tags or (lrp.metrics_guid and "source_id" in lrp.metric_tags and \
            lrp.metric_tags["source_id"].static != lrp.metrics_guid):
        bad.append("metric_tags")
    _check(bad)


def desired_lrp_update(process_guid: str, update: models.DesiredLRPUpdate) -> None:
    bad = []
    if not process_guid:
        bad.append("process_guid")
    if update.HasField("instances") and update.instances < 0:
        bad.append("instances")
    if update.HasField("annotation") and len(update.annotation.encode()) > MAX_ANNOTATION:
        bad.append("annotation")
    if routes_size(update.routes) > MAX_ROUTES:
        bad.append("routes")
    _check(bad)


def desire_task(request: models.DesireTaskRequest) -> None:
    bad = []
    if not GUID.match(request.task_guid):
        bad.append("task_guid")
    if not request.domain:
        bad.append("domain")
    if not request.HasField("task_definition"):
        bad.append("task_definition")
    else:
        definition = request.task_definition
        if not _rootfs_ok(definition.root_fs):
            bad.append("rootfs")
        if not definition.HasField("action") or not _action_set(definition.action):
            bad.append("action")
        if definition.cpu_weight > 100:
            bad.append("cpu_weight")
        if len(definition.annotation.encode()) > MAX_ANNOTATION:
            bad.append("annotation")
        for name in ("memory_mb", "disk_mb", "max_pids"):
            if getattr(definition, name) < 0:
                bad.append(name)
    _check(bad)


def required(**values: object) -> None:
    """Every named value must be non-empty (guids, cell ids, domains, error messages)."""
    _check([name for name, value in values.items() if not value])


def actual_lrp_key(key: models.ActualLRPKey, extra: list[str] | None = None) -> None:
    bad = list(extra or [])
    if not key.process_guid:
        bad.append("process_guid")
    if key.index < 0:
        bad.append("index")
    if not key.domain:
        bad.append("domain")
    _check(bad)


def instance_key_fields(key: models.ActualLRPInstanceKey) -> list[str]:
    bad = []
    if not key.instance_guid:
        bad.append("instance_guid")
    if not key.cell_id:
        bad.append("cell_id")
    return bad
