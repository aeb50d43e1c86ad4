"""DesiredLRP and ActualLRP routes through the project's client, as Diego's BBS answers them."""

from __future__ import annotations

import pytest
from bbs_harness import by_index, desired_lrp, instance_key, lrp_key, net_info

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSError


def test_desire_writes_one_unclaimed_actual_per_index_and_hands_them_to_the_auctioneer(make_bbs, auctioneer):
    bbs = make_bbs(auctioneer_url=auctioneer.url)
    with BBSClient(bbs.url) as client:
        client.desire_lrp(desired_lrp("web", instances=3))
        # synchronous like Diego: the batch is with the auctioneer before desire_lrp returned
        assert auctioneer.lrps.qsize() == 1
        assert sorted(auctioneer.lrp_indices(timeout=0)) == [("web", 0), ("web", 1), ("web", 2)]
        actuals = client.actual_lrps(process_guid="web")
    assert sorted(a.actual_lrp_key.index for a in actuals) == [0, 1, 2]
    assert {a.state for a in actuals} == {"UNCLAIMED"}
    assert all(a.since > 0 and a.modification_tag.epoch for a in actuals)


def test_desire_twice_is_resource_exists(client):
    client.desire_lrp(desired_lrp("web"))
    with pytest.raises(BBSError) as e:
        client.desire_lrp(desired_lrp("web"))
    assert e.value.type == "ResourceExists"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"process_guid": "has space"}, "process_guid"),
        ({"process_guid": "dot.ted"}, "process_guid"),
        ({"domain": ""}, "domain"),
        ({"root_fs": "cflinuxfs4"}, "rootfs"),
        ({"instances": -1}, "instances"),
        ({"memory_mb": -1}, "memory_mb"),
        ({"disk_mb": -5}, "disk_mb"),
        ({"annotation": "x" * (10 * 1024 + 1)}, "annotation"),
    ],
)
def test_invalid_desired_lrp_names_the_field(client, change, field):
    lrp = desired_lrp("web")
    for name, value in change.items():
        setattr(lrp, name, value)
    with pytest.raises(BBSError) as e:
        client.desire_lrp(lrp)
    assert e.value.type == "InvalidRequest"
    assert f"Invalid field: {field}" in e.value.message
    assert client.desired_lrps() == []


def test_action_metric_tags_and_routes_are_validated(client):
    lrp = desired_lrp("web")
    lrp.ClearField("action")
    lrp.metric_tags.clear()
    lrp.routes.routes["cf-router"] = b"x" * (128 * 1024 + 1)
    with pytest.raises(BBSError) as e:
        client.desire_lrp(lrp)
    for field in ("action", "metric_tags", "routes"):
        assert f"Invalid field: {field}" in e.value.message


def test_reads_by_guid_and_filters(client):
    client.desire_lrp(desired_lrp("a", instances=2, domain="d1"))
    client.desire_lrp(desired_lrp("b", instances=1, domain="d2", annotation="note"))
    assert {d.process_guid for d in client.desired_lrps(domain="d1")} == {"a"}
    assert {d.process_guid for d in client.desired_lrps(process_guids=["b"])} == {"b"}
    assert client.desired_lrp_by_process_guid("b").annotation == "note"
    info = client.desired_lrp_scheduling_info_by_process_guid("a")
    assert info.desired_lrp_key.process_guid == "a"
    assert (info.instances, info.desired_lrp_resource.memory_mb) == (2, 64)
    assert len(client.desired_lrp_scheduling_infos()) == 2
    assert {r.process_guid for r in client.desired_lrp_routing_infos()} == {"a", "b"}
    assert len(client.actual_lrps(domain="d1")) == 2
    assert [a.actual_lrp_key.index for a in client.actual_lrps(process_guid="a", index=1)] == [1]
    assert len(client.actual_lrps_by_process_guids(["a", "b"])) == 3
    with pytest.raises(BBSError) as e:
        client.desired_lrp_by_process_guid("nope")
    assert e.value.type == "ResourceNotFound"


def test_update_scales_and_changes_routes_without_restarting(client):
    client.desire_lrp(desired_lrp("web", instances=2))
    client.claim_actual_lrp("web", 0, instance_key())
    client.start_actual_lrp(lrp_key("web"), instance_key(), net_info())
    running = by_index(client, "web")[(0, 0)]

    update = models.DesiredLRPUpdate(instances=4, annotation="v2")
    update.routes.routes["cf-router"] = b'[{"hostnames":["web.example.com"],"port":8080}]'
    client.update_desired_lrp("web", update)
    after = client.desired_lrp_by_process_guid("web")
    assert (after.instances, after.annotation) == (4, "v2")
    assert after.routes.routes["cf-router"].startswith(b'[{"hostnames"')
    assert after.modification_tag.index == 1
    actuals = by_index(client, "web")
    assert sorted(i for i, _ in actuals) == [0, 1, 2, 3]
    assert actuals[(0, 0)] == running  # not restarted

    client.update_desired_lrp("web", models.DesiredLRPUpdate(instances=1))
    assert sorted(i for i, _ in by_index(client, "web")) == [0]


def test_update_and_remove_unknown_guid_is_not_found(client):
    for call in (lambda: client.update_desired_lrp("nope", models.DesiredLRPUpdate(instances=1)),
                 lambda: client.remove_desired_lrp("nope")):
        with pytest.raises(BBSError) as e:
            call()
        assert e.value.type == "ResourceNotFound"


def test_remove_deletes_desired_and_instances_not_on_a_cell(client):
    client.desire_lrp(desired_lrp("web", instances=3))
    client.remove_desired_lrp("web")
    assert client.desired_lrps() == []
    assert client.actual_lrps() == []


def test_claim_start_lifecycle_and_transition_errors(client):
    client.desire_lrp(desired_lrp("web"))
    client.claim_actual_lrp("web", 0, instance_key("cell-0", "ig-0"))
    claimed = by_index(client, "web")[(0, 0)]
    assert (claimed.state, claimed.actual_lrp_instance_key.cell_id) == ("CLAIMED", "cell-0")
    client.claim_actual_lrp("web", 0, instance_key("cell-0", "ig-0"))  # same instance: fine
    with pytest.raises(BBSError) as e:
        client.claim_actual_lrp("web", 0, instance_key("cell-1", "ig-1"))
    assert e.value.type == "ActualLRPCannotBeClaimed"

    client.start_actual_lrp(lrp_key("web"), instance_key("cell-0", "ig-0"), net_info())
    running = by_index(client, "web")[(0, 0)]
    assert running.state == "RUNNING"
    assert running.actual_lrp_net_info.ports[0].host_port == 61001
    assert running.modification_tag.index == 2
    with pytest.raises(BBSError) as e:
        client.start_actual_lrp(lrp_key("web"), instance_key("cell-1", "ig-1"), net_info())
    assert e.value.type == "ActualLRPCannotBeStarted"
    with pytest.raises(BBSError) as e:
        client.claim_actual_lrp("web", 7, instance_key())
    assert e.value.type == "ResourceNotFound"
    with pytest.raises(BBSError) as e:
        client.claim_actual_lrp("web", 0, models.ActualLRPInstanceKey())
    assert e.value.type == "InvalidRequest" and "instance_guid" in e.value.message


def test_crash_restarts_immediately_twice_then_stays_crashed(client):
    client.desire_lrp(desired_lrp("web"))
    for expected_count, expected_state in ((1, "UNCLAIMED"), (2, "UNCLAIMED"), (3, "CRASHED")):
        client.claim_actual_lrp("web", 0, instance_key())
        client.start_actual_lrp(lrp_key("web"), instance_key(), net_info())
        client.crash_actual_lrp(lrp_key("web"), instance_key(), "exit status 1")
        lrp = by_index(client, "web")[(0, 0)]
        assert (lrp.crash_count, lrp.state) == (expected_count, expected_state)
        assert lrp.crash_reason == "exit status 1"
        assert not lrp.actual_lrp_instance_key.cell_id
    with pytest.raises(BBSError) as e:
        client.crash_actual_lrp(lrp_key("web"), instance_key(), "again")
    assert e.value.type == "ActualLRPCannotBeCrashed"


def test_fail_sets_placement_error_only_while_unclaimed(client):
    client.desire_lrp(desired_lrp("web"))
    client.fail_actual_lrp(lrp_key("web"), "insufficient resources: memory")
    lrp = by_index(client, "web")[(0, 0)]
    assert (lrp.state, lrp.placement_error) == ("UNCLAIMED", "insufficient resources: memory")
    client.claim_actual_lrp("web", 0, instance_key())
    assert by_index(client, "web")[(0, 0)].placement_error == ""
    with pytest.raises(BBSError) as e:
        client.fail_actual_lrp(lrp_key("web"), "late")
    assert e.value.type == "ActualLRPCannotBeFailed"


def test_remove_needs_the_matching_instance(client):
    client.desire_lrp(desired_lrp("web"))
    client.claim_actual_lrp("web", 0, instance_key("cell-0", "ig-0"))
    with pytest.raises(BBSError) as e:
        client.remove_actual_lrp("web", 0, instance_key("cell-9", "ig-9"))
    assert e.value.type == "ActualLRPCannotBeRemoved"
    client.remove_actual_lrp("web", 0, instance_key("cell-0", "ig-0"))
    assert client.actual_lrps() == []
    with pytest.raises(BBSError) as e:
        client.remove_actual_lrp("web", 0, instance_key("cell-0", "ig-0"))
    assert e.value.type == "ResourceNotFound"


def test_retire_removes_an_instance_whose_cell_is_gone(client):
    client.desire_lrp(desired_lrp("web", instances=2))
    client.claim_actual_lrp("web", 1, instance_key("cell-gone"))
    client.retire_actual_lrp(lrp_key("web", 1))
    client.retire_actual_lrp(lrp_key("web", 0))
    assert client.actual_lrps() == []


def test_evacuating_a_running_instance_keeps_a_copy_until_the_replacement_runs(client):
    client.desire_lrp(desired_lrp("web"))
    old, new = instance_key("cell-0", "ig-old"), instance_key("cell-1", "ig-new")
    client.claim_actual_lrp("web", 0, old)
    client.start_actual_lrp(lrp_key("web"), old, net_info())
    assert client.evacuate_running_actual_lrp(lrp_key("web"), old, net_info()) is True
    lrps = by_index(client, "web")
    assert lrps[(0, models.ActualLRP.EVACUATING)].state == "RUNNING"
    assert lrps[(0, models.ActualLRP.ORDINARY)].state == "UNCLAIMED"
    client.claim_actual_lrp("web", 0, new)
    client.start_actual_lrp(lrp_key("web"), new, net_info("127.1.0.2"))
    assert client.evacuate_running_actual_lrp(lrp_key("web"), old, net_info()) is False
    assert list(by_index(client, "web")) == [(0, models.ActualLRP.ORDINARY)]
    with pytest.raises(BBSError) as e:
        client.remove_evacuating_actual_lrp(lrp_key("web"), old)
    assert e.value.type == "ResourceNotFound"
