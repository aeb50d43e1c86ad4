"""The work a scenario desires, as the target runs it: rootfs, commands, routes.

``diego.work`` holds the rootfs and commands (``pytest_diego.workload.commands``; set with the
``diego_rootfs``, ``diego_lrp_command``, ``diego_task_command`` and ``diego_crash_command``
options); these functions apply them to the builders' definitions.
"""

from __future__ import annotations

from pytest_diego.bbs import models
from pytest_diego.pytest_support.diego import Diego
from pytest_diego.workload import cf_routes, fezzik_task_definition


def _replace_command(action: models.Action, command: str) -> None:
    del action.run_action.args[:]
    action.run_action.args.extend(["-c", command])


def app(diego: Diego, lrp: models.DesiredLRP, crashing: bool = False) -> models.DesiredLRP:
    """``lrp`` as the target runs it: its rootfs and command (the crash command for a crashing
    app), and its cf-router route under the target's apps domain."""
    lrp.root_fs = diego.work.rootfs
    _replace_command(lrp.action, diego.work.crash_command if crashing else diego.work.lrp_command)
    port = lrp.ports[0] if lrp.ports else 8080
    lrp.routes.CopyFrom(cf_routes([hostname(diego, lrp.process_guid)], port))
    return lrp


def burst_task(diego: Diego, task_guid: str) -> models.TaskDefinition:
    """fezzik's Task (64 MB / 64 MB, its guid as the result) as the target runs it."""
    definition = fezzik_task_definition(task_guid)
    definition.root_fs = diego.work.rootfs
    if diego.work.task_command:
        _replace_command(definition.action, diego.work.task_command.replace("{task_guid}", task_guid))
    return definition


def hostname(diego: Diego, process_guid: str) -> str:
    """The app route of ``process_guid`` under the target's apps domain."""
    return f"{process_guid}.{diego.apps_domain}"
