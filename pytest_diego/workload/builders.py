"""Builders for Diego work: DesiredLRPs and Task definitions that pass BBS validation.

Defaults follow what Cloud Controller sends: rootfs ``preloaded:cflinuxfs4``, a ``RunAction``
run as ``vcap``, memory/disk/pids limits, ``cf-router`` routes on port 8080 and
``metric_tags`` ``{"source_id": <app guid>}`` (the BBS rejects an LRP without metric tags).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from pytest_diego.bbs import models

DOMAIN = "pytest-diego"
ROOTFS = "preloaded:cflinuxfs4"
APP_PORT = 8080
APP_DOMAIN = "apps.pytest-diego.test"


def run_action(command: str, env: Mapping[str, str] | None = None, user: str = "vcap") -> models.Action:
    """An Action running ``command`` with ``/bin/sh -c`` (Diego requires path and user)."""
    return models.Action(run_action=models.RunAction(
        path="/bin/sh", args=["-c", command], user=user, log_source="APP",
        env=[models.EnvironmentVariable(name=k, value=v) for k, v in (env or {}).items()]))


def cf_routes(hostnames: Sequence[str], port: int = APP_PORT) -> models.ProtoRoutes:
    """``cf-router`` routes as Cloud Controller writes them (raw JSON in ProtoRoutes)."""
    payload = json.dumps([{"hostnames": list(hostnames), "port": port}]).encode()
    return models.ProtoRoutes(routes={"cf-router": payload})


def app_hostname(process_guid: str) -> str:
    return f"{process_guid}.{APP_DOMAIN}"


def desired_lrp(process_guid: str, *, domain: str = DOMAIN, instances: int = 1, memory_mb: int = 64,
                disk_mb: int = 128, max_pids: int = 1024, rootfs: str = ROOTFS,
                hostnames: Sequence[str] | None = None, port: int = APP_PORT,
                env: Mapping[str, str] | None = None, app_guid: str | None = None,
                command: str = "exec ./app", start_timeout_ms: int = 60_000,
                annotation: str = "") -> models.DesiredLRP:
    """A web-app DesiredLRP; routable at ``hostnames`` (default ``<process_guid>.apps...``)."""
    guid = app_guid or process_guid
    variables = {"PORT": str(port), **(env or {})}
    return models.DesiredLRP(
        process_guid=process_guid, domain=domain, root_fs=rootfs, instances=instances,
        memory_mb=memory_mb, disk_mb=disk_mb, max_pids=max_pids, ports=[port],
        environment_variables=[models.EnvironmentVariable(name=k, value=v) for k, v in variables.items()],
        action=run_action(command, variables), start_timeout_ms=start_timeout_ms,
        routes=cf_routes(hostnames or [app_hostname(process_guid)], port),
        log_guid=guid, log_source="CELL", annotation=annotation,
        metric_tags={"source_id": models.MetricTagValue(static=guid)})


def task_definition(*, memory_mb: int = 64, disk_mb: int = 64, max_pids: int = 1024, rootfs: str = ROOTFS,
                    command: str = "echo ok", env: Mapping[str, str] | None = None,
                    result_file: str = "", completion_callback_url: str = "",
                    log_guid: str = "pytest-diego", annotation: str = "") -> models.TaskDefinition:
    """A Task definition with a ``RunAction`` and ``metric_tags`` ``{"source_id": log_guid}``."""
    return models.TaskDefinition(
        root_fs=rootfs, memory_mb=memory_mb, disk_mb=disk_mb, max_pids=max_pids,
        action=run_action(command, env), result_file=result_file,
        completion_callback_url=completion_callback_url, log_guid=log_guid, log_source="TASK",
        annotation=annotation,
        environment_variables=[models.EnvironmentVariable(name=k, value=v) for k, v in (env or {}).items()],
        metric_tags={"source_id": models.MetricTagValue(static=log_guid)})
