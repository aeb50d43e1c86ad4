"""The work a scenario desires carries the target's rootfs, commands and routes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pytest_diego.scenario import app, burst_task
from pytest_diego.workload import desired_lrp
from pytest_diego.workload.commands import CRASH_COMMAND, READY_APP_COMMAND, Work


@dataclass
class Target:
    work: Work = field(default_factory=Work)
    apps_domain: str = "apps.example.com"


def test_apps_run_the_ready_app_and_crashing_apps_the_crash_command_by_default():
    steady = app(Target(), desired_lrp("steady", instances=2))
    crashing = app(Target(), desired_lrp("crashing", env={"MIN_SECONDS_TIL_CRASH": "30"}), crashing=True)
    assert list(steady.action.run_action.args) == ["-c", READY_APP_COMMAND]
    assert list(crashing.action.run_action.args) == ["-c", CRASH_COMMAND]
    assert steady.root_fs == "preloaded:cflinuxfs4"
    [route] = json.loads(steady.routes.routes["cf-router"])
    assert route["hostnames"] == ["steady.apps.example.com"]


def test_the_options_replace_rootfs_and_commands():
    work = Work(rootfs="docker:///busybox", lrp_command="./server", crash_command="exit 1",
                task_command="echo {task_guid} done")
    assert app(Target(work), desired_lrp("a")).action.run_action.args[1] == "./server"
    assert app(Target(work), desired_lrp("b"), crashing=True).action.run_action.args[1] == "exit 1"
    task = burst_task(Target(work), "t-1")
    assert (task.root_fs, task.action.run_action.args[1]) == ("docker:///busybox", "echo t-1 done")
    assert burst_task(Target(), "t-2").action.run_action.args[1] == "echo t-2 > /tmp/output"
