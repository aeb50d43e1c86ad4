"""Builders for Tasks and LRPs, Diego's stress-test app mix and fezzik's shapes."""

import json

from pytest_diego.bbs import models
from pytest_diego.workload import (
    APP_MIX,
    app_mix,
    desired_lrp,
    fezzik_lrp,
    fezzik_task_definition,
    task_definition,
)


def test_desired_lrp_has_what_bbs_validation_requires():
    lrp = desired_lrp("web-1", instances=3)
    again = models.DesiredLRP.FromString(lrp.SerializeToString())
    assert again.domain and again.root_fs == "preloaded:cflinuxfs4"
    assert again.metric_tags["source_id"].static == "web-1"
    assert again.action.run_action.path and again.action.run_action.user == "vcap"
    assert again.instances == 3 and again.memory_mb > 0 and again.disk_mb > 0
    routes = json.loads(again.routes.routes["cf-router"])
    assert routes == [{"hostnames": ["web-1.apps.pytest-diego.test"], "port": 8080}]
    assert list(again.ports) == [8080]


def test_task_definition_defaults():
    td = task_definition(command="echo hi", env={"A": "1"})
    assert td.root_fs == "preloaded:cflinuxfs4"
    assert td.action.run_action.args == ["-c", "echo hi"]
    assert td.metric_tags["source_id"].static
    assert {e.name: e.value for e in td.environment_variables} == {"A": "1"}


def test_one_batch_of_the_app_mix_matches_diego_stress_tests():
    batch = app_mix(1)
    assert len(batch) == 20
    assert sum(a.desired_lrp.instances for a in batch) == 25
    assert sum(a.desired_lrp.instances * a.desired_lrp.memory_mb for a in batch) == 2848
    assert abs(sum(a.request_rate for a in batch) - 1.0) < 1e-9
    crashing = [a for a in batch if a.kind.crashing]
    assert len(crashing) == 2
    env = {e.name: e.value for e in crashing[0].desired_lrp.environment_variables}
    assert env["MIN_SECONDS_TIL_CRASH"] == "30" and env["MAX_SECONDS_TIL_CRASH"] == "360"
    kinds = ["light", "light-group", "medium", "medium-group", "heavy", "crashing"]
    assert [k.name for k in APP_MIX] == kinds


def test_batches_have_distinct_process_guids():
    apps = app_mix(3, prefix="soak")
    guids = [a.desired_lrp.process_guid for a in apps]
    assert len(set(guids)) == 60 and guids[0] == "soak-0-light-0"


def test_fezzik_shapes():
    td = fezzik_task_definition("t-1", "http://127.0.0.1:9/done")
    assert (td.memory_mb, td.disk_mb, td.result_file) == (64, 64, "/tmp/output")
    assert "echo t-1 > /tmp/output" in td.action.run_action.args[-1]
    lrp = fezzik_lrp("fezzik-lrp", instances=50)
    assert (lrp.memory_mb, lrp.disk_mb, lrp.instances) == (64, 128, 50)
