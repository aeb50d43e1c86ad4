"""Wire-level messages: every field set (``filled``), and any value of each field's type, valid
or not (``any_*``), for encoders, decoders and event parsers."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

from pytest_diego.bbs import models
from pytest_diego.strategies.valid import SMALL, Strategy, guids
from pytest_diego.workload.builders import desired_lrp, task_definition

M = TypeVar("M", bound=Message)

# -- every field set -----------------------------------------------------------------------------------
def filled(message_type: type[M], depth: int = 0) -> M:
    """An instance of ``message_type`` with every field set (strings ``fuzz-<field>``, numbers 1,
    enums their second value, nested messages to depth 3): a wire-valid message that reaches every
    field of a decoder."""
    message = message_type()
    for field in message.DESCRIPTOR.fields:
        # upb's field descriptors are descriptor.FieldDescriptor instances at run time; the stubs
        # keep the two classes apart
        _fill(message, field, depth)  # type: ignore[arg-type]
    return message


def _scalar(field: FieldDescriptor) -> object:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        return f"fuzz-{field.name}"
    if t == FieldDescriptor.TYPE_BYTES:
        return f"fuzz-{field.name}".encode()
    if t == FieldDescriptor.TYPE_BOOL:
        return True
    if t == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None  # every enum field has its enum type
        values = field.enum_type.values
        return values[min(1, len(values) - 1)].number
    if t in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return 1.5
    return 1


def _fill(message: Message, field: FieldDescriptor, depth: int) -> None:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if depth >= 3:
            return
        descriptor = _message_type(field)
        if descriptor.GetOptions().map_entry:
            key_field = descriptor.fields_by_name["key"]
            value_field = descriptor.fields_by_name["value"]
            container = getattr(message, field.name)
            key = _scalar(key_field)
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                container[key].CopyFrom(filled(GetMessageClass(_message_type(value_field)), depth + 1))
            else:
                container[key] = _scalar(value_field)
            return
        child = filled(GetMessageClass(descriptor), depth + 1)
        if field.is_repeated:
            getattr(message, field.name).add().CopyFrom(child)
        else:
            getattr(message, field.name).CopyFrom(child)
        return
    value = _scalar(field)
    if field.is_repeated:
        getattr(message, field.name).append(value)
    else:
        setattr(message, field.name, value)


def _message_type(field: FieldDescriptor) -> Descriptor:
    """The descriptor of a message field's type (a map field's: its entry)."""
    assert field.message_type is not None  # every message field has its message type
    return field.message_type


def valid_examples(name: str, request_type: type[Message] | None) -> list[bytes]:
    """Wire-valid bodies for route ``name``: every field set, and for the desire routes a request
    the BBS accepts (so mutations of them reach the operation, not just the decoder)."""
    if request_type is None:
        return [b""]
    examples = [filled(request_type).SerializeToString()]
    if name == "DesireDesiredLRP":
        examples.append(models.DesireLRPRequest(desired_lrp=desired_lrp("fuzz-lrp")).SerializeToString())
    if name == "DesireTask":
        examples.append(models.DesireTaskRequest(task_guid="fuzz-task", domain="fuzz",
                                                 task_definition=task_definition()).SerializeToString())
    return examples


# -- any value of each field's type (wire level) ---------------------------------------------------------
_int32 = st.integers(-(2**31), 2**31 - 1)
_uint32 = st.integers(0, 2**32 - 1)
_int64 = st.integers(-(2**63), 2**63 - 1)
_uint64 = st.integers(0, 2**64 - 1)
_text = st.text(max_size=12)


def _any_environment() -> Strategy[list[models.EnvironmentVariable]]:
    return st.lists(st.builds(models.EnvironmentVariable, name=_text, value=_text), max_size=SMALL)


def _any_files() -> Strategy[list[models.File]]:
    return st.lists(st.builds(models.File, path=_text, content=_text), max_size=SMALL)


@st.composite
def _any_resource_limits(draw: st.DrawFn) -> models.ResourceLimits:
    limits = models.ResourceLimits()
    nofile = draw(st.none() | _uint64)
    if nofile is not None:
        limits.nofile = nofile
    return limits


def _any_leaf_actions() -> Strategy[models.Action]:
    run = st.builds(models.RunAction, path=_text, args=st.lists(_text, max_size=SMALL), dir=_text,
                    env=_any_environment(), resource_limits=_any_resource_limits(), user=_text,
                    log_source=_text, suppress_log_output=st.booleans(), volume_mounted_files=_any_files())
    download = st.builds(models.DownloadAction, artifact=_text, to=_text, cache_key=_text, user=_text,
                         checksum_algorithm=st.sampled_from(["", "sha256"]), checksum_value=_text,
                         **{"from": _text})
    upload = st.builds(models.UploadAction, artifact=_text, to=_text, user=_text, **{"from": _text})
    return st.one_of(run.map(lambda a: models.Action(run_action=a)),
                     download.map(lambda a: models.Action(download_action=a)),
                     upload.map(lambda a: models.Action(upload_action=a)))


def _any_wrapped(children: Strategy[models.Action]) -> Strategy[models.Action]:
    many = st.lists(children, max_size=3)
    return st.one_of(
        st.builds(models.TimeoutAction, action=children, timeout_ms=_int64, log_source=_text).map(
            lambda a: models.Action(timeout_action=a)),
        st.builds(models.TryAction, action=children).map(lambda a: models.Action(try_action=a)),
        st.builds(models.EmitProgressAction, action=children, start_message=_text, success_message=_text).map(
            lambda a: models.Action(emit_progress_action=a)),
        st.builds(models.SerialAction, actions=many).map(lambda a: models.Action(serial_action=a)),
        st.builds(models.ParallelAction, actions=many).map(lambda a: models.Action(parallel_action=a)),
        st.builds(models.CodependentAction, actions=many).map(lambda a: models.Action(codependent_action=a)),
    )


def any_actions() -> Strategy[models.Action]:
    """Action trees with any value in every field (empty paths, negative timeouts, empty serials)."""
    return st.recursive(_any_leaf_actions(), _any_wrapped, max_leaves=6)


def _any_metric_tags() -> Strategy[dict[str, models.MetricTagValue]]:
    value = st.one_of(st.builds(models.MetricTagValue, static=_text),
                      st.builds(models.MetricTagValue, dynamic=st.sampled_from([1, 2])))
    return st.dictionaries(_text, value, max_size=3)


def _any_checks() -> Strategy[list[models.Check]]:
    tcp = st.builds(models.TCPCheck, port=_uint32, connect_timeout_ms=_uint64, interval_ms=_uint64)
    http = st.builds(models.HTTPCheck, port=_uint32, request_timeout_ms=_uint64, path=_text)
    return st.lists(st.one_of(tcp.map(lambda c: models.Check(tcp_check=c)),
                              http.map(lambda c: models.Check(http_check=c))), max_size=2)


def _any_egress_rules() -> Strategy[list[models.SecurityGroupRule]]:
    return st.lists(st.builds(
        models.SecurityGroupRule, protocol=st.sampled_from(["tcp", "udp", "icmp", "all"]),
        destinations=st.lists(_text, max_size=2), ports=st.lists(_uint32, max_size=3),
        port_range=st.builds(models.PortRange, start=_uint32, end=_uint32),
        icmp_info=st.builds(models.ICMPInfo, type=_int32, code=_int32), log=st.booleans()), max_size=2)


def _any_modification_tags() -> Strategy[models.ModificationTag]:
    return st.builds(models.ModificationTag, epoch=guids(16), index=_uint32)


def any_desired_lrps() -> Strategy[models.DesiredLRP]:
    """DesiredLRPs with every commonly used field set to any value of its type, valid or not."""
    return st.builds(
        models.DesiredLRP, process_guid=guids(16), domain=guids(16),
        root_fs=st.sampled_from(["preloaded:cflinuxfs4", "docker:///busybox"]), instances=_int32,
        environment_variables=_any_environment(), setup=any_actions(), action=any_actions(),
        monitor=any_actions(), start_timeout_ms=_int64, disk_mb=_int32, memory_mb=_int32, cpu_weight=_uint32,
        privileged=st.booleans(), ports=st.lists(_uint32, max_size=4),
        routes=st.builds(models.ProtoRoutes, routes=st.dictionaries(
            st.sampled_from(["cf-router", "tcp-router", "internal-router"]), st.binary(max_size=40))),
        log_source=_text, log_guid=guids(16), annotation=_text, egress_rules=_any_egress_rules(),
        modification_tag=_any_modification_tags(),
        cached_dependencies=st.lists(
            st.builds(models.CachedDependency, name=_text, to=_text, cache_key=_text), max_size=2),
        volume_mounts=st.lists(st.builds(
            models.VolumeMount, driver=_text, container_dir=_text, mode=st.sampled_from(["r", "rw"]),
            shared=st.builds(models.SharedDevice, volume_id=_text, mount_config=_text)), max_size=2),
        network=st.builds(models.Network, properties=st.dictionaries(_text, _text, max_size=2)),
        PlacementTags=st.lists(_text, max_size=3), max_pids=_int32,
        certificate_properties=st.builds(models.CertificateProperties,
                                         organizational_unit=st.lists(_text, max_size=2)),
        check_definition=st.builds(models.CheckDefinition, checks=_any_checks(),
                                   readiness_checks=_any_checks(), log_source=_text),
        image_layers=st.lists(st.builds(
            models.ImageLayer, name=_text, url=_text, destination_path=_text,
            layer_type=st.sampled_from([1, 2]), media_type=st.sampled_from([1, 2, 3]),
            digest_algorithm=st.sampled_from([0, 1]), digest_value=_text), max_size=2),
        metric_tags=_any_metric_tags(),
        sidecars=st.lists(st.builds(models.Sidecar, action=any_actions(), disk_mb=_int32, memory_mb=_int32),
                          max_size=2),
        log_rate_limit=st.builds(models.LogRateLimit, bytes_per_second=_int64),
        volume_mounted_files=_any_files(), update_strategy=st.sampled_from([0, 1]))


def _any_task_definitions() -> Strategy[models.TaskDefinition]:
    return st.builds(
        models.TaskDefinition, root_fs=st.sampled_from(["preloaded:cflinuxfs4", "docker:///busybox"]),
        environment_variables=_any_environment(), action=any_actions(), disk_mb=_int32, memory_mb=_int32,
        cpu_weight=_uint32, privileged=st.booleans(), log_guid=guids(16), result_file=_text,
        completion_callback_url=_text, annotation=_text, egress_rules=_any_egress_rules(),
        placement_tags=st.lists(_text, max_size=2), max_pids=_int32, image_username=_text,
        metric_tags=_any_metric_tags(), volume_mounted_files=_any_files())


def any_tasks() -> Strategy[models.Task]:
    """Tasks in any state with every commonly used field set to any value of its type."""
    return st.builds(
        models.Task, task_definition=_any_task_definitions(), task_guid=guids(16), domain=guids(16),
        created_at=_int64, updated_at=_int64, first_completed_at=_int64,
        state=st.sampled_from([0, 1, 2, 3, 4]), cell_id=_text, result=_text, failed=st.booleans(),
        failure_reason=_text, rejection_count=_int32, rejection_reason=_text)


def _any_lrp_keys() -> Strategy[models.ActualLRPKey]:
    return st.builds(models.ActualLRPKey, process_guid=guids(16), index=_int32, domain=guids(16))


def _any_instance_keys() -> Strategy[models.ActualLRPInstanceKey]:
    return st.builds(models.ActualLRPInstanceKey, instance_guid=guids(16), cell_id=_text)


def _any_net_infos() -> Strategy[models.ActualLRPNetInfo]:
    mapping = st.builds(models.PortMapping, container_port=_uint32, host_port=_uint32,
                        container_tls_proxy_port=_uint32, host_tls_proxy_port=_uint32)
    return st.builds(models.ActualLRPNetInfo, address=_text, ports=st.lists(mapping, max_size=3),
                     instance_address=_text, preferred_address=st.sampled_from([0, 1, 2]),
                     instance_ipv6_address=_text)


_STATES = st.sampled_from(["UNCLAIMED", "CLAIMED", "RUNNING", "CRASHED"])
_PRESENCES = [models.ActualLRP.ORDINARY, models.ActualLRP.EVACUATING, models.ActualLRP.SUSPECT]


@st.composite
def any_actual_lrps(draw: st.DrawFn) -> models.ActualLRP:
    """ActualLRPs in any state and presence with every field set to any value of its type."""
    lrp = models.ActualLRP(
        actual_lrp_key=draw(_any_lrp_keys()), actual_lrp_instance_key=draw(_any_instance_keys()),
        actual_lrp_net_info=draw(_any_net_infos()), crash_count=draw(_int32), crash_reason=draw(_text),
        state=draw(_STATES), placement_error=draw(_text), since=draw(_int64),
        modification_tag=draw(_any_modification_tags()), presence=draw(st.sampled_from(_PRESENCES)),
        actual_lrp_internal_routes=draw(st.lists(st.builds(models.ActualLRPInternalRoute, hostname=_text),
                                                 max_size=2)),
        metric_tags=draw(st.dictionaries(_text, _text, max_size=3)), availability_zone=draw(_text))
    routable = draw(st.none() | st.booleans())
    if routable is not None:
        lrp.routable = routable
    return lrp


@st.composite
def _any_actual_lrp_infos(draw: st.DrawFn) -> models.ActualLRPInfo:
    info = models.ActualLRPInfo(
        actual_lrp_net_info=draw(_any_net_infos()), crash_count=draw(_int32), state=draw(_STATES),
        since=draw(_int64), modification_tag=draw(_any_modification_tags()),
        presence=draw(st.sampled_from(_PRESENCES)), availability_zone=draw(_text))
    routable = draw(st.none() | st.booleans())
    if routable is not None:
        info.Routable = routable
    return info


def any_events() -> Strategy[Message]:
    """Every BBS event message (DesiredLRP, ActualLRP instance, crash, Task, the deprecated
    ActualLRP group event) carrying ``any_*`` records."""
    lrps, tasks, actual = any_desired_lrps(), any_tasks(), any_actual_lrps()
    return st.one_of(
        st.builds(models.DesiredLRPCreatedEvent, desired_lrp=lrps, trace_id=_text),
        st.builds(models.DesiredLRPChangedEvent, before=lrps, after=lrps, trace_id=_text),
        st.builds(models.DesiredLRPRemovedEvent, desired_lrp=lrps, trace_id=_text),
        st.builds(models.ActualLRPInstanceCreatedEvent, actual_lrp=actual, trace_id=_text),
        st.builds(models.ActualLRPInstanceChangedEvent, actual_lrp_key=_any_lrp_keys(),
                  actual_lrp_instance_key=_any_instance_keys(), before=_any_actual_lrp_infos(),
                  after=_any_actual_lrp_infos(), trace_id=_text),
        st.builds(models.ActualLRPInstanceRemovedEvent, actual_lrp=actual, trace_id=_text),
        st.builds(models.ActualLRPCrashedEvent, actual_lrp_key=_any_lrp_keys(),
                  actual_lrp_instance_key=_any_instance_keys(), crash_count=_int32, crash_reason=_text,
                  since=_int64),
        st.builds(models.TaskCreatedEvent, task=tasks),
        st.builds(models.TaskChangedEvent, before=tasks, after=tasks),
        st.builds(models.TaskRemovedEvent, task=tasks),
        st.builds(models.ActualLRPCreatedEvent,
                  actual_lrp_group=st.builds(models.ActualLRPGroup, instance=actual)),
    )
