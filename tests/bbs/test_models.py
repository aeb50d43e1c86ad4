"""The wire models: Diego's field numbers pinned against hand-encoded bytes, and round trips."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from google.protobuf import descriptor_pb2
from hypothesis import given

from pytest_diego.bbs import _pb, models
from pytest_diego.strategies import any_actual_lrps, any_desired_lrps, any_events, any_tasks


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32/int64 are ten-byte two's complement varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def vint(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def ldelim(number: int, payload: bytes) -> bytes:
    return tag(number, 2) + varint(len(payload)) + payload


def string(number: int, value: str) -> bytes:
    return ldelim(number, value.encode())


def assert_wire(message, expected: bytes) -> None:
    """``message`` encodes to exactly ``expected`` and ``expected`` decodes back to ``message``."""
    assert message.SerializeToString(deterministic=True) == expected
    assert type(message).FromString(expected) == message


# ---------------------------------------------------------------- hand-encoded bytes


def test_error_type_is_field_1_and_message_field_2():
    error = models.Error(type=models.Error.ResourceExists, message="the requested resource already exists")
    assert_wire(error, vint(1, 12) + string(2, "the requested resource already exists"))


def test_actual_lrp_state_is_a_string_in_field_6():
    lrp = models.ActualLRP(state="RUNNING", crash_count=2, since=1_700_000_000_000_000_000)
    assert_wire(lrp, vint(4, 2) + string(6, "RUNNING") + vint(8, 1_700_000_000_000_000_000))


def test_actual_lrp_embedded_keys_net_info_and_presence():
    lrp = models.ActualLRP(
        actual_lrp_key=models.ActualLRPKey(process_guid="pg", index=1, domain="cf-apps"),
        actual_lrp_instance_key=models.ActualLRPInstanceKey(instance_guid="ig", cell_id="cell-0"),
        actual_lrp_net_info=models.ActualLRPNetInfo(
            address="127.1.0.1",
            ports=[models.PortMapping(container_port=8080, host_port=61001)],
            preferred_address=models.ActualLRPNetInfo.HOST,
        ),
        modification_tag=models.ModificationTag(epoch="e", index=3),
        presence=models.ActualLRP.SUSPECT,
        metric_tags={"source_id": "app"},
        availability_zone="z1",
    )
    expected = (
        ldelim(1, string(1, "pg") + vint(2, 1) + string(3, "cf-apps"))
        + ldelim(2, string(1, "ig") + string(2, "cell-0"))
        + ldelim(3, string(1, "127.1.0.1") + ldelim(2, vint(1, 8080) + vint(2, 61001)) + vint(4, 2))
        + ldelim(9, string(1, "e") + vint(2, 3))
        + vint(10, 2)
        + ldelim(12, string(1, "source_id") + string(2, "app"))
        + string(14, "z1")
    )
    assert_wire(lrp, expected)


def test_routable_false_is_sent_because_it_is_a_oneof():
    lrp = models.ActualLRP()
    assert not lrp.HasField("routable")
    lrp.routable = False
    assert_wire(lrp, vint(13, 0))
    assert models.ActualLRP.FromString(vint(13, 0)).HasField("routable")
    request = models.StartActualLRPRequest(Routable=False)
    assert_wire(request, vint(6, 0))
    assert_wire(models.ActualLRPInfo(Routable=True), vint(11, 1))


def test_task_state_is_enum_field_7_and_definition_is_field_1():
    task = models.Task(
        task_guid="t-1",
        domain="d",
        state=models.Task.Running,
        task_definition=models.TaskDefinition(memory_mb=256, root_fs="preloaded:cflinuxfs4"),
        failed=True,
        rejection_count=2,
    )
    expected = (
        ldelim(1, string(1, "preloaded:cflinuxfs4") + vint(5, 256))
        + string(2, "t-1")
        + string(3, "d")
        + vint(7, 2)
        + vint(10, 1)
        + vint(12, 2)
    )
    assert_wire(task, expected)


def test_desired_lrp_instances_ports_routes_and_metric_tags():
    lrp = models.DesiredLRP(
        process_guid="pg",
        instances=3,
        ports=[8080, 61443],
        routes=models.ProtoRoutes(routes={"cf-router": b'[{"hostnames":["a.example.com"],"port":8080}]'}),
        start_timeout_ms=60_000,
        PlacementTags=["iso"],
        metric_tags={"source_id": models.MetricTagValue(static="app-guid")},
        update_strategy=models.DesiredLRP.RECREATE,
    )
    route_entry = string(1, "cf-router") + ldelim(2, b'[{"hostnames":["a.example.com"],"port":8080}]')
    expected = (
        string(1, "pg")
        + vint(4, 3)
        + vint(14, 8080)  # repeated uint32, not packed: one tag per element
        + vint(14, 61443)
        + ldelim(15, ldelim(1, route_entry))
        + vint(27, 60_000)
        + string(28, "iso")
        + ldelim(35, string(1, "source_id") + ldelim(2, string(1, "app-guid")))
        + vint(39, 1)
    )
    assert_wire(lrp, expected)


def test_packed_ports_from_other_encoders_still_decode():
    packed = ldelim(14, varint(8080) + varint(9090))
    assert list(models.DesiredLRP.FromString(packed).ports) == [8080, 9090]


def test_dynamic_metric_tag_and_negative_index():
    value = models.MetricTagValue(dynamic=models.MetricTagValue.INSTANCE_GUID)
    assert_wire(value, vint(2, 2))
    assert_wire(models.ActualLRPKey(index=-1), vint(2, -1))
    assert len(models.ActualLRPKey(index=-1).SerializeToString()) == 11


def test_desired_lrp_update_oneofs_send_zero_values():
    update = models.DesiredLRPUpdate(instances=0, annotation="")
    assert_wire(update, vint(1, 0) + string(3, ""))
    assert not models.DesiredLRPUpdate().HasField("instances")
    update = models.DesiredLRPUpdate(
        routes=models.ProtoRoutes(routes={"cf-router": b"[]"}),
        metric_tags={"k": models.MetricTagValue(static="v")},
        image_username="u",
        image_password="p",
    )
    expected = (
        ldelim(2, ldelim(1, string(1, "cf-router") + ldelim(2, b"[]")))
        + ldelim(4, string(1, "k") + ldelim(2, string(1, "v")))
        + string(5, "u")
        + string(6, "p")
    )
    assert_wire(update, expected)


def test_actual_lrps_request_index_zero_is_a_filter():
    assert_wire(models.ActualLRPsRequest(process_guid="pg", index=0), string(3, "pg") + vint(4, 0))
    assert not models.ActualLRPsRequest(process_guid="pg").HasField("index")


def test_resource_limits_nofile_and_nproc_track_presence():
    assert_wire(models.ResourceLimits(nofile=0), vint(1, 0))
    assert_wire(models.ResourceLimits(nproc=1024), vint(2, 1024))


def test_timeout_action_uses_field_4_for_milliseconds():
    action = models.Action(timeout_action=models.TimeoutAction(timeout_ms=5000, log_source="l"))
    assert_wire(action, ldelim(4, string(3, "l") + vint(4, 5000)))


def test_run_action_fields():
    run = models.RunAction(
        path="/bin/sh",
        args=["-c", "x"],
        env=[models.EnvironmentVariable(name="A", value="1")],
        resource_limits=models.ResourceLimits(nofile=1024),
        user="vcap",
        suppress_log_output=True,
        volume_mounted_files=[models.File(path="/etc/x", content="y")],
    )
    expected = (
        string(1, "/bin/sh")
        + string(2, "-c")
        + string(2, "x")
        + ldelim(4, string(1, "A") + string(2, "1"))
        + ldelim(5, vint(1, 1024))
        + string(6, "vcap")
        + vint(8, 1)
        + ldelim(9, string(1, "/etc/x") + string(2, "y"))
    )
    assert_wire(models.Action(run_action=run), ldelim(3, expected))


def test_cell_presence_fields():
    presence = models.CellPresence(
        cell_id="cell-0",
        rep_address="http://127.1.0.1:1800",
        zone="z0",
        capacity=models.CellCapacity(memory_mb=1024, disk_mb=2048, containers=250),
        rootfs_providers=[models.Provider(name="preloaded", properties=["cflinuxfs4"])],
        rep_url="http://127.1.0.1:1800",
        annotations={"k": "v"},
    )
    expected = (
        string(1, "cell-0")
        + string(2, "http://127.1.0.1:1800")
        + string(3, "z0")
        + ldelim(4, vint(1, 1024) + vint(2, 2048) + vint(3, 250))
        + ldelim(5, string(1, "preloaded") + string(2, "cflinuxfs4"))
        + string(8, "http://127.1.0.1:1800")
        + ldelim(9, string(1, "k") + string(2, "v"))
    )
    assert_wire(presence, expected)


def test_instance_changed_event_fields():
    event = models.ActualLRPInstanceChangedEvent(
        actual_lrp_key=models.ActualLRPKey(process_guid="pg"),
        before=models.ActualLRPInfo(state="CLAIMED"),
        after=models.ActualLRPInfo(
            state="RUNNING", presence=models.ActualLRP.EVACUATING, availability_zone="z"
        ),
        trace_id="t",
    )
    expected = (
        ldelim(1, string(1, "pg"))
        + ldelim(3, string(6, "CLAIMED"))
        + ldelim(4, string(6, "RUNNING") + vint(10, 1) + string(12, "z"))
        + string(5, "t")
    )
    assert_wire(event, expected)


def test_request_messages_of_cell_side_routes():
    key = models.ActualLRPKey(process_guid="pg", index=0, domain="d")
    instance = models.ActualLRPInstanceKey(instance_guid="ig", cell_id="c")
    key_bytes = string(1, "pg") + string(3, "d")
    instance_bytes = string(1, "ig") + string(2, "c")
    assert_wire(
        models.ClaimActualLRPRequest(process_guid="pg", index=2, actual_lrp_instance_key=instance),
        string(1, "pg") + vint(2, 2) + ldelim(3, instance_bytes),
    )
    assert_wire(
        models.CrashActualLRPRequest(actual_lrp_key=key, actual_lrp_instance_key=instance, error_message="e"),
        ldelim(1, key_bytes) + ldelim(2, instance_bytes) + string(3, "e"),
    )
    assert_wire(
        models.EvacuateRunningActualLRPRequest(actual_lrp_key=key, Routable=True, availability_zone="z"),
        ldelim(1, key_bytes) + vint(7, 1) + string(8, "z"),
    )
    assert_wire(
        models.CompleteTaskRequest(task_guid="t", cell_id="c", failed=True, failure_reason="f", result="r"),
        string(1, "t") + string(2, "c") + vint(3, 1) + string(4, "f") + string(5, "r"),
    )
    assert_wire(models.StartTaskResponse(should_start=True), vint(2, 1))
    assert_wire(models.EvacuationResponse(keep_container=True), vint(2, 1))
    assert_wire(models.UpsertDomainRequest(domain="cf-apps", ttl=120), string(1, "cf-apps") + vint(2, 120))
    assert_wire(models.EventsByCellId(cell_id="cell-1"), string(1, "cell-1"))


# ---------------------------------------------------------------- enums and reserved numbers


def test_error_type_values_are_diegos():
    expected = {
        "UnknownError": 0, "InvalidRecord": 3, "InvalidRequest": 4, "InvalidResponse": 5,
        "InvalidProtobufMessage": 6, "InvalidJSON": 7, "FailedToOpenEnvelope": 8,
        "InvalidStateTransition": 9, "ResourceConflict": 11, "ResourceExists": 12,
        "ResourceNotFound": 13, "RouterError": 14, "ActualLRPCannotBeClaimed": 15,
        "ActualLRPCannotBeStarted": 16, "ActualLRPCannotBeCrashed": 17, "ActualLRPCannotBeFailed": 18,
        "ActualLRPCannotBeRemoved": 19, "ActualLRPCannotBeUnclaimed": 21, "RunningOnDifferentCell": 24,
        "GUIDGeneration": 26, "Deserialize": 27, "Deadlock": 28, "Unrecoverable": 29,
        "LockCollision": 30, "Timeout": 31,
    }  # fmt: skip
    assert dict(models.Error.Type.items()) == expected


@pytest.mark.parametrize(
    ("enum", "expected"),
    [
        (models.Task.State, {"Invalid": 0, "Pending": 1, "Running": 2, "Completed": 3, "Resolving": 4}),
        (models.ActualLRP.Presence, {"ORDINARY": 0, "EVACUATING": 1, "SUSPECT": 2}),
        (models.ActualLRPNetInfo.PreferredAddress, {"UNKNOWN": 0, "INSTANCE": 1, "HOST": 2}),
        (models.MetricTagValue.DynamicValue, {"DynamicValueInvalid": 0, "INDEX": 1, "INSTANCE_GUID": 2}),
        (models.DesiredLRP.UpdateStrategy, {"ROLLING": 0, "RECREATE": 1}),
    ],
)
def test_enum_values(enum, expected):
    assert dict(enum.items()) == expected


def _proto(message_cls) -> descriptor_pb2.DescriptorProto:
    proto = descriptor_pb2.DescriptorProto()
    message_cls.DESCRIPTOR.CopyToProto(proto)
    return proto


def test_reserved_numbers():
    error_type = _proto(models.Error).enum_type[0]
    reserved = {number for r in error_type.reserved_range for number in range(r.start, r.end + 1)}
    assert reserved == {1, 2, 10, 20, 22, 23, 25}
    evacuate = _proto(models.EvacuateRunningActualLRPRequest)
    assert [(r.start, r.end) for r in evacuate.reserved_range] == [(4, 5)]
    volume_mount = _proto(models.VolumeMount)
    assert {r.start for r in volume_mount.reserved_range} == {2, 4, 5}


FIELD_NUMBERS = {
    models.DesiredLRP: {
        "process_guid": 1, "domain": 2, "root_fs": 3, "instances": 4, "environment_variables": 5,
        "setup": 6, "action": 7, "deprecated_start_timeout_s": 8, "monitor": 9, "disk_mb": 10,
        "memory_mb": 11, "cpu_weight": 12, "privileged": 13, "ports": 14, "routes": 15,
        "log_source": 16, "log_guid": 17, "metrics_guid": 18, "annotation": 19, "egress_rules": 20,
        "modification_tag": 21, "cached_dependencies": 22, "legacy_download_user": 23,
        "trusted_system_certificates_path": 24, "volume_mounts": 25, "network": 26,
        "start_timeout_ms": 27, "PlacementTags": 28, "max_pids": 29, "certificate_properties": 30,
        "image_username": 31, "image_password": 32, "check_definition": 33, "image_layers": 34,
        "metric_tags": 35, "sidecars": 36, "log_rate_limit": 37, "volume_mounted_files": 38,
        "update_strategy": 39,
    },
    models.TaskDefinition: {
        "root_fs": 1, "environment_variables": 2, "action": 3, "disk_mb": 4, "memory_mb": 5,
        "cpu_weight": 6, "privileged": 7, "log_source": 8, "log_guid": 9, "metrics_guid": 10,
        "result_file": 11, "completion_callback_url": 12, "annotation": 13, "egress_rules": 14,
        "cached_dependencies": 15, "legacy_download_user": 16, "trusted_system_certificates_path": 17,
        "volume_mounts": 18, "network": 19, "placement_tags": 20, "max_pids": 21,
        "certificate_properties": 22, "image_username": 23, "image_password": 24, "image_layers": 25,
        "log_rate_limit": 26, "metric_tags": 27, "volume_mounted_files": 28,
    },
    models.Task: {
        "task_definition": 1, "task_guid": 2, "domain": 3, "created_at": 4, "updated_at": 5,
        "first_completed_at": 6, "state": 7, "cell_id": 8, "result": 9, "failed": 10,
        "failure_reason": 11, "rejection_count": 12, "rejection_reason": 13,
    },
    models.ActualLRP: {
        "actual_lrp_key": 1, "actual_lrp_instance_key": 2, "actual_lrp_net_info": 3, "crash_count": 4,
        "crash_reason": 5, "state": 6, "placement_error": 7, "since": 8, "modification_tag": 9,
        "presence": 10, "actual_lrp_internal_routes": 11, "metric_tags": 12, "routable": 13,
        "availability_zone": 14,
    },
    models.ActualLRPInfo: {
        "actual_lrp_net_info": 3, "crash_count": 4, "crash_reason": 5, "state": 6, "placement_error": 7,
        "since": 8, "modification_tag": 9, "presence": 10, "Routable": 11, "availability_zone": 12,
    },
    models.DesiredLRPSchedulingInfo: {
        "desired_lrp_key": 1, "annotation": 2, "instances": 3, "desired_lrp_resource": 4, "routes": 5,
        "modification_tag": 6, "volume_placement": 7, "PlacementTags": 8,
    },
    models.StartActualLRPRequest: {
        "actual_lrp_key": 1, "actual_lrp_instance_key": 2, "actual_lrp_net_info": 3,
        "actual_lrp_internal_routes": 4, "metric_tags": 5, "Routable": 6, "availability_zone": 7,
    },
    models.ActualLRPCrashedEvent: {
        "actual_lrp_key": 1, "actual_lrp_instance_key": 2, "crash_count": 3, "crash_reason": 4, "since": 5,
    },
    models.Action: {
        "download_action": 1, "upload_action": 2, "run_action": 3, "timeout_action": 4,
        "emit_progress_action": 5, "try_action": 6, "parallel_action": 7, "serial_action": 8,
        "codependent_action": 9,
    },
    models.SecurityGroupRule: {
        "protocol": 1, "destinations": 2, "ports": 3, "port_range": 4, "icmp_info": 5, "log": 6,
        "annotations": 7,
    },
}  # fmt: skip


@pytest.mark.parametrize("message_cls", list(FIELD_NUMBERS), ids=lambda cls: cls.__name__)
def test_field_numbers_match_the_reference(message_cls):
    actual = {field.name: field.number for field in message_cls.DESCRIPTOR.fields}
    assert actual == FIELD_NUMBERS[message_cls]


def test_every_generated_message_is_exported_under_its_bbs_name():
    generated = set()
    for module_info in pkgutil.iter_modules(_pb.__path__):
        module = importlib.import_module(f"{_pb.__name__}.{module_info.name}")
        assert module.DESCRIPTOR.package == "models"
        generated.update(module.DESCRIPTOR.message_types_by_name)
    assert len(generated) > 100
    exported = {name for name in models.__all__ if not name.startswith("ActualLRPState")}
    assert exported == generated
    for name in generated:
        assert getattr(models, name).DESCRIPTOR.full_name == f"models.{name}"


def test_actual_lrp_state_constants():
    assert [
        models.ActualLRPStateUnclaimed,
        models.ActualLRPStateClaimed,
        models.ActualLRPStateRunning,
        models.ActualLRPStateCrashed,
    ] == ["UNCLAIMED", "CLAIMED", "RUNNING", "CRASHED"]


def test_models_pickle_by_their_package_path():
    import pickle

    task = models.Task(task_guid="t", state=models.Task.Completed)
    assert type(task).__module__ == "pytest_diego.bbs._pb.task_pb2"
    assert pickle.loads(pickle.dumps(task)) == task


# ---------------------------------------------------------------- round trips


@given(any_desired_lrps())
def test_desired_lrp_round_trip(lrp):
    data = lrp.SerializeToString()
    decoded = models.DesiredLRP.FromString(data)
    assert decoded == lrp
    assert decoded.SerializeToString(deterministic=True) == lrp.SerializeToString(deterministic=True)


@given(any_tasks())
def test_task_round_trip(task):
    assert models.Task.FromString(task.SerializeToString()) == task


@given(any_actual_lrps())
def test_actual_lrp_round_trip(lrp):
    decoded = models.ActualLRP.FromString(lrp.SerializeToString())
    assert decoded == lrp
    assert decoded.HasField("routable") == lrp.HasField("routable")


@given(any_events())
def test_event_round_trip(event):
    assert type(event).FromString(event.SerializeToString()) == event
