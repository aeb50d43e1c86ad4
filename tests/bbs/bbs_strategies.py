"""Hypothesis strategies building Diego BBS models with every commonly used field populated."""

from __future__ import annotations

from hypothesis import strategies as st

from pytest_diego.bbs import models

text = st.text(max_size=12)
guids = st.from_regex(r"[a-zA-Z0-9_-]{1,16}", fullmatch=True)
int32 = st.integers(-(2**31), 2**31 - 1)
uint32 = st.integers(0, 2**32 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)
uint64 = st.integers(0, 2**64 - 1)
small_lists = {"max_size": 3}

environment = st.lists(st.builds(models.EnvironmentVariable, name=text, value=text), **small_lists)
files = st.lists(st.builds(models.File, path=text, content=text), **small_lists)


@st.composite
def resource_limits(draw: st.DrawFn) -> models.ResourceLimits:
    limits = models.ResourceLimits()
    nofile = draw(st.none() | uint64)
    if nofile is not None:
        limits.nofile = nofile
    return limits


run_actions = st.builds(
    models.RunAction,
    path=text,
    args=st.lists(text, **small_lists),
    dir=text,
    env=environment,
    resource_limits=resource_limits(),
    user=text,
    log_source=text,
    suppress_log_output=st.booleans(),
    volume_mounted_files=files,
)
download_actions = st.builds(
    models.DownloadAction,
    artifact=text,
    to=text,
    **{"from": text},
    cache_key=text,
    user=text,
    checksum_algorithm=st.sampled_from(["", "sha256"]),
    checksum_value=text,
)
leaf_actions = st.one_of(
    run_actions.map(lambda action: models.Action(run_action=action)),
    download_actions.map(lambda action: models.Action(download_action=action)),
    st.builds(models.UploadAction, artifact=text, to=text, user=text, **{"from": text}).map(
        lambda action: models.Action(upload_action=action)
    ),
)


def _wrap(children: st.SearchStrategy[models.Action]) -> st.SearchStrategy[models.Action]:
    many = st.lists(children, max_size=3)
    return st.one_of(
        st.builds(models.TimeoutAction, action=children, timeout_ms=int64, log_source=text).map(
            lambda action: models.Action(timeout_action=action)
        ),
        st.builds(models.TryAction, action=children).map(lambda action: models.Action(try_action=action)),
        st.builds(models.EmitProgressAction, action=children, start_message=text, success_message=text).map(
            lambda action: models.Action(emit_progress_action=action)
        ),
        st.builds(models.SerialAction, actions=many).map(lambda action: models.Action(serial_action=action)),
        st.builds(models.ParallelAction, actions=many).map(
            lambda action: models.Action(parallel_action=action)
        ),
        st.builds(models.CodependentAction, actions=many).map(
            lambda action: models.Action(codependent_action=action)
        ),
    )


actions = st.recursive(leaf_actions, _wrap, max_leaves=6)

metric_tag_values = st.one_of(
    st.builds(models.MetricTagValue, static=text),
    st.builds(models.MetricTagValue, dynamic=st.sampled_from([1, 2])),
)
metric_tags = st.dictionaries(text, metric_tag_values, max_size=3)
routes = st.builds(
    models.ProtoRoutes,
    routes=st.dictionaries(
        st.sampled_from(["cf-router", "tcp-router", "internal-router"]), st.binary(max_size=40)
    ),
)
egress_rules = st.lists(
    st.builds(
        models.SecurityGroupRule,
        protocol=st.sampled_from(["tcp", "udp", "icmp", "all"]),
        destinations=st.lists(text, max_size=2),
        ports=st.lists(uint32, max_size=3),
        port_range=st.builds(models.PortRange, start=uint32, end=uint32),
        icmp_info=st.builds(models.ICMPInfo, type=int32, code=int32),
        log=st.booleans(),
    ),
    max_size=2,
)
checks = st.lists(
    st.one_of(
        st.builds(models.TCPCheck, port=uint32, connect_timeout_ms=uint64, interval_ms=uint64).map(
            lambda check: models.Check(tcp_check=check)
        ),
        st.builds(models.HTTPCheck, port=uint32, request_timeout_ms=uint64, path=text).map(
            lambda check: models.Check(http_check=check)
        ),
    ),
    max_size=2,
)
modification_tags = st.builds(models.ModificationTag, epoch=guids, index=uint32)

desired_lrps = st.builds(
    models.DesiredLRP,
    process_guid=guids,
    domain=guids,
    root_fs=st.sampled_from(["preloaded:cflinuxfs4", "docker:///busybox"]),
    instances=int32,
    environment_variables=environment,
    setup=actions,
    action=actions,
    monitor=actions,
    start_timeout_ms=int64,
    disk_mb=int32,
    memory_mb=int32,
    cpu_weight=uint32,
    privileged=st.booleans(),
    ports=st.lists(uint32, max_size=4),
    routes=routes,
    log_source=text,
    log_guid=guids,
    annotation=text,
    egress_rules=egress_rules,
    modification_tag=modification_tags,
    cached_dependencies=st.lists(
        st.builds(models.CachedDependency, name=text, to=text, cache_key=text), max_size=2
    ),
    volume_mounts=st.lists(
        st.builds(
            models.VolumeMount,
            driver=text,
            container_dir=text,
            mode=st.sampled_from(["r", "rw"]),
            shared=st.builds(models.SharedDevice, volume_id=text, mount_config=text),
        ),
        max_size=2,
    ),
    network=st.builds(models.Network, properties=st.dictionaries(text, text, max_size=2)),
    PlacementTags=st.lists(text, max_size=3),
    max_pids=int32,
    certificate_properties=st.builds(
        models.CertificateProperties, organizational_unit=st.lists(text, max_size=2)
    ),
    check_definition=st.builds(
        models.CheckDefinition, checks=checks, readiness_checks=checks, log_source=text
    ),
    image_layers=st.lists(
        st.builds(
            models.ImageLayer,
            name=text,
            url=text,
            destination_path=text,
            layer_type=st.sampled_from([1, 2]),
            media_type=st.sampled_from([1, 2, 3]),
            digest_algorithm=st.sampled_from([0, 1]),
            digest_value=text,
        ),
        max_size=2,
    ),
    metric_tags=metric_tags,
    sidecars=st.lists(st.builds(models.Sidecar, action=actions, disk_mb=int32, memory_mb=int32), max_size=2),
    log_rate_limit=st.builds(models.LogRateLimit, bytes_per_second=int64),
    volume_mounted_files=files,
    update_strategy=st.sampled_from([0, 1]),
)

task_definitions = st.builds(
    models.TaskDefinition,
    root_fs=st.sampled_from(["preloaded:cflinuxfs4", "docker:///busybox"]),
    environment_variables=environment,
    action=actions,
    disk_mb=int32,
    memory_mb=int32,
    cpu_weight=uint32,
    privileged=st.booleans(),
    log_guid=guids,
    result_file=text,
    completion_callback_url=text,
    annotation=text,
    egress_rules=egress_rules,
    placement_tags=st.lists(text, max_size=2),
    max_pids=int32,
    image_username=text,
    metric_tags=metric_tags,
    volume_mounted_files=files,
)

tasks = st.builds(
    models.Task,
    task_definition=task_definitions,
    task_guid=guids,
    domain=guids,
    created_at=int64,
    updated_at=int64,
    first_completed_at=int64,
    state=st.sampled_from([0, 1, 2, 3, 4]),
    cell_id=text,
    result=text,
    failed=st.booleans(),
    failure_reason=text,
    rejection_count=int32,
    rejection_reason=text,
)

actual_lrp_keys = st.builds(models.ActualLRPKey, process_guid=guids, index=int32, domain=guids)
instance_keys = st.builds(models.ActualLRPInstanceKey, instance_guid=guids, cell_id=text)
net_infos = st.builds(
    models.ActualLRPNetInfo,
    address=text,
    ports=st.lists(
        st.builds(
            models.PortMapping,
            container_port=uint32,
            host_port=uint32,
            container_tls_proxy_port=uint32,
            host_tls_proxy_port=uint32,
        ),
        max_size=3,
    ),
    instance_address=text,
    preferred_address=st.sampled_from([0, 1, 2]),
    instance_ipv6_address=text,
)
states = st.sampled_from(["UNCLAIMED", "CLAIMED", "RUNNING", "CRASHED"])


@st.composite
def actual_lrps(draw: st.DrawFn) -> models.ActualLRP:
    lrp = models.ActualLRP(
        actual_lrp_key=draw(actual_lrp_keys),
        actual_lrp_instance_key=draw(instance_keys),
        actual_lrp_net_info=draw(net_infos),
        crash_count=draw(int32),
        crash_reason=draw(text),
        state=draw(states),
        placement_error=draw(text),
        since=draw(int64),
        modification_tag=draw(modification_tags),
        presence=draw(st.sampled_from([0, 1, 2])),
        actual_lrp_internal_routes=draw(
            st.lists(st.builds(models.ActualLRPInternalRoute, hostname=text), max_size=2)
        ),
        metric_tags=draw(st.dictionaries(text, text, max_size=3)),
        availability_zone=draw(text),
    )
    routable = draw(st.none() | st.booleans())
    if routable is not None:
        lrp.routable = routable
    return lrp


@st.composite
def actual_lrp_infos(draw: st.DrawFn) -> models.ActualLRPInfo:
    info = models.ActualLRPInfo(
        actual_lrp_net_info=draw(net_infos),
        crash_count=draw(int32),
        state=draw(states),
        since=draw(int64),
        modification_tag=draw(modification_tags),
        presence=draw(st.sampled_from([0, 1, 2])),
        availability_zone=draw(text),
    )
    routable = draw(st.none() | st.booleans())
    if routable is not None:
        info.Routable = routable
    return info


events = st.one_of(
    st.builds(models.DesiredLRPCreatedEvent, desired_lrp=desired_lrps, trace_id=text),
    st.builds(models.DesiredLRPChangedEvent, before=desired_lrps, after=desired_lrps, trace_id=text),
    st.builds(models.DesiredLRPRemovedEvent, desired_lrp=desired_lrps, trace_id=text),
    st.builds(models.ActualLRPInstanceCreatedEvent, actual_lrp=actual_lrps(), trace_id=text),
    st.builds(
        models.ActualLRPInstanceChangedEvent,
        actual_lrp_key=actual_lrp_keys,
        actual_lrp_instance_key=instance_keys,
        before=actual_lrp_infos(),
        after=actual_lrp_infos(),
        trace_id=text,
    ),
    st.builds(models.ActualLRPInstanceRemovedEvent, actual_lrp=actual_lrps(), trace_id=text),
    st.builds(
        models.ActualLRPCrashedEvent,
        actual_lrp_key=actual_lrp_keys,
        actual_lrp_instance_key=instance_keys,
        crash_count=int32,
        crash_reason=text,
        since=int64,
    ),
    st.builds(models.TaskCreatedEvent, task=tasks),
    st.builds(models.TaskChangedEvent, before=tasks, after=tasks),
    st.builds(models.TaskRemovedEvent, task=tasks),
    st.builds(
        models.ActualLRPCreatedEvent,
        actual_lrp_group=st.builds(models.ActualLRPGroup, instance=actual_lrps()),
    ),
)
