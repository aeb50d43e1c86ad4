"""Deprecated routes still served (ActualLRPGroups, .r2 reads, start r0) and the remaining
Evacuate* routes a draining cell calls."""

from __future__ import annotations

import pytest
import requests
from bbs_harness import by_index, desired_lrp, instance_key, lrp_key, net_info

from pytest_diego.bbs import models
from pytest_diego.bbs.errors import BBSError

EVACUATING = models.ActualLRP.EVACUATING


def _post(bbs, path: str, request, response_cls):
    reply = requests.post(bbs.url + path, data=request.SerializeToString(), timeout=5)
    assert reply.status_code == 200
    return response_cls.FromString(reply.content)


def test_actual_lrp_groups(bbs, client):
    client.desire_lrp(desired_lrp("web", instances=2))
    client.claim_actual_lrp("web", 1, instance_key())
    groups = _post(bbs, "/v1/actual_lrp_groups/list", models.ActualLRPGroupsRequest(),
                   models.ActualLRPGroupsResponse).actual_lrp_groups
    assert sorted((g.instance.actual_lrp_key.index, g.instance.state) for g in groups) == \
        [(0, "UNCLAIMED"), (1, "CLAIMED")]
    one = _post(bbs, "/v1/actual_lrp_groups/get_by_process_guid_and_index",
                models.ActualLRPGroupByProcessGuidAndIndexRequest(process_guid="web", index=1),
                models.ActualLRPGroupResponse)
    assert one.actual_lrp_group.instance.actual_lrp_instance_key.cell_id == "cell-0"
    missing = _post(bbs, "/v1/actual_lrp_groups/get_by_process_guid_and_index",
                    models.ActualLRPGroupByProcessGuidAndIndexRequest(process_guid="web", index=9),
                    models.ActualLRPGroupResponse)
    assert missing.error.type == models.Error.ResourceNotFound


def test_r2_reads_and_r0_start(bbs, client):
    client.desire_lrp(desired_lrp("web"))
    lrps = _post(bbs, "/v1/desired_lrps/list.r2", models.DesiredLRPsRequest(), models.DesiredLRPsResponse)
    assert [d.process_guid for d in lrps.desired_lrps] == ["web"]
    start = models.StartActualLRPRequest(actual_lrp_key=lrp_key("web"))
    start.actual_lrp_instance_key.CopyFrom(instance_key())
    start.actual_lrp_net_info.CopyFrom(net_info())
    reply = _post(bbs, "/v1/actual_lrps/start", start, models.ActualLRPLifecycleResponse)
    assert not reply.HasField("error")
    assert by_index(client, "web")[(0, 0)].state == "RUNNING"


def _running(client, guid="ig-0", cell="cell-0"):
    client.desire_lrp(desired_lrp("web"))
    client.claim_actual_lrp("web", 0, instance_key(cell, guid))
    client.start_actual_lrp(lrp_key("web"), instance_key(cell, guid), net_info())


def test_evacuate_claimed_puts_the_instance_back_up_for_auction(client):
    client.desire_lrp(desired_lrp("web"))
    client.claim_actual_lrp("web", 0, instance_key())
    assert client.evacuate_claimed_actual_lrp(lrp_key("web"), instance_key()) is False
    lrp = by_index(client, "web")[(0, 0)]
    assert (lrp.state, lrp.actual_lrp_instance_key.cell_id) == ("UNCLAIMED", "")


def test_evacuate_stopped_and_remove_evacuating_drop_the_copy(client):
    _running(client)
    assert client.evacuate_running_actual_lrp(lrp_key("web"), instance_key(), net_info()) is True
    assert (0, EVACUATING) in by_index(client, "web")
    client.remove_evacuating_actual_lrp(lrp_key("web"), instance_key())
    assert (0, EVACUATING) not in by_index(client, "web")
    with pytest.raises(BBSError) as e:
        client.remove_evacuating_actual_lrp(lrp_key("web"), instance_key())
    assert e.value.type == "ResourceNotFound"
    client.evacuate_running_actual_lrp(lrp_key("web"), instance_key(), net_info())
    assert client.evacuate_stopped_actual_lrp(lrp_key("web"), instance_key()) is False
    assert (0, EVACUATING) not in by_index(client, "web")


def test_evacuate_crashed_crashes_the_instance(client):
    _running(client)
    assert client.evacuate_crashed_actual_lrp(lrp_key("web"), instance_key(), "oom") is False
    lrp = by_index(client, "web")[(0, 0)]
    assert (lrp.state, lrp.crash_count, lrp.crash_reason) == ("UNCLAIMED", 1, "oom")
