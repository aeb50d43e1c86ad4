"""Valid Diego BBS messages: what a BBS must accept by Diego's validation (``bbs:models/*.go``
``Validate()``, stricter than the embedded BBS's in places).

Strings are printable (no control characters, nothing past U+FFFF, which MySQL's 3-byte utf8
cannot store) and routes JSON is compact ASCII, so a real BBS stores and returns them byte for byte.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

from pytest_diego.bbs import models

Strategy = st.SearchStrategy
ROOTFSES = ("preloaded:cflinuxfs4", "preloaded:cflinuxfs3", "docker:///cloudfoundry/run#cflinuxfs4",
            "docker://registry.example.com/team/app:1.2")
CHECKSUM_ALGORITHMS = ("md5", "sha1", "sha256", "SHA256")
PROTOCOLS_WITH_PORTS = ("tcp", "udp")
SMALL = 3  # list sizes: enough to reach every element's code, small enough to stay fast
ports = st.integers(1, 65535)


# -- building blocks ---------------------------------------------------------------------------------
def text(min_size: int = 0, max_size: int = 24) -> Strategy[str]:
    """Printable text a real BBS stores unchanged: no control characters, nothing past U+FFFF
    (MySQL's 3-byte utf8), no surrogates (protobuf strings are UTF-8)."""
    return st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFFFF,
                                 exclude_categories=("Cc", "Cs", "Co", "Cn")),
                   min_size=min_size, max_size=max_size)


def guids(max_size: int = 36) -> Strategy[str]:
    """process_guid / task_guid values Diego accepts: ``^[a-zA-Z0-9_-]+$``."""
    return st.from_regex(rf"[a-zA-Z0-9_-]{{1,{max_size}}}", fullmatch=True)


def domains() -> Strategy[str]:
    """Domains like Cloud Controller's (``cf-apps``, ``cf-tasks``)."""
    return st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True)


def hostnames() -> Strategy[str]:
    """DNS names of two to four lowercase labels, as routes carry them."""
    label = r"[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?"
    return st.from_regex(rf"{label}(\.{label}){{1,3}}", fullmatch=True)


def environment() -> Strategy[list[models.EnvironmentVariable]]:
    """Environment variables; Diego refuses a blank name."""
    return st.lists(st.builds(models.EnvironmentVariable, name=text(1, 16), value=text()), max_size=SMALL)


def metric_tags() -> Strategy[dict[str, models.MetricTagValue]]:
    """At least one tag (Diego refuses a DesiredLRP without), each static (non-empty) or dynamic
    (INDEX or INSTANCE_GUID), never both."""
    value = st.one_of(st.builds(models.MetricTagValue, static=text(1, 24)),
                      st.builds(models.MetricTagValue, dynamic=st.sampled_from(
                          [models.MetricTagValue.INDEX, models.MetricTagValue.INSTANCE_GUID])))
    return st.dictionaries(text(1, 16), value, min_size=1, max_size=3)


# -- routes --------------------------------------------------------------------------------------------
@st.composite
def _cf_route(draw: st.DrawFn) -> dict[str, object]:
    route: dict[str, object] = {"hostnames": draw(st.lists(hostnames(), min_size=1, max_size=3)),
                                "port": draw(ports)}
    if draw(st.booleans()):
        route["route_service_url"] = "https://" + draw(hostnames())
    if draw(st.booleans()):
        route["isolation_segment"] = draw(st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True))
    if draw(st.booleans()):
        route["protocol"] = draw(st.sampled_from(["http1", "http2"]))
    return route


def route_json(value: object) -> bytes:
    """Routes JSON as Diego stores it: compact, ASCII (Go's json.Marshal of a RawMessage compacts
    it, so spaced JSON would not come back byte for byte)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode()


@st.composite
def cf_routes(draw: st.DrawFn) -> models.ProtoRoutes:
    """``DesiredLRP.routes`` with ``cf-router`` routes as Cloud Controller writes them
    (code.cloudfoundry.org/routing-info/cfroutes): a JSON array of hostnames, port and optional
    route service URL, isolation segment and protocol; sometimes ``tcp-router`` routes too."""
    routes = {"cf-router": route_json(draw(st.lists(_cf_route(), min_size=1, max_size=4)))}
    if draw(st.booleans()):
        tcp = draw(st.lists(st.fixed_dictionaries({
            "router_group_guid": guids(), "external_port": ports, "container_port": ports}), max_size=2))
        routes["tcp-router"] = route_json(tcp)
    return models.ProtoRoutes(routes=routes)


# -- actions -------------------------------------------------------------------------------------------
def _resource_limits() -> Strategy[models.ResourceLimits]:
    return st.one_of(st.builds(models.ResourceLimits),
                     st.builds(models.ResourceLimits, nofile=st.integers(1, 2**20)))


@st.composite
def _download(draw: st.DrawFn) -> models.DownloadAction:
    action = models.DownloadAction(
        artifact=draw(text()), to=draw(text(1)), cache_key=draw(text()), user=draw(text(1, 12)),
        log_source=draw(text(max_size=8)), **{"from": draw(text(1))})
    if draw(st.booleans()):  # Diego: both or neither, and only md5, sha1 or sha256
        action.checksum_algorithm = draw(st.sampled_from(CHECKSUM_ALGORITHMS))
        action.checksum_value = draw(st.from_regex(r"[0-9a-f]{8,64}", fullmatch=True))
    return action


def _leaf_actions() -> Strategy[models.Action]:
    run = st.builds(models.RunAction, path=text(1), args=st.lists(text(), max_size=SMALL), dir=text(),
                    env=environment(), resource_limits=_resource_limits(), user=text(1, 12),
                    log_source=text(max_size=8), suppress_log_output=st.booleans())
    upload = st.builds(models.UploadAction, artifact=text(), to=text(1), user=text(1, 12),
                       log_source=text(max_size=8), **{"from": text(1)})
    return st.one_of(run.map(lambda a: models.Action(run_action=a)),
                     _download().map(lambda a: models.Action(download_action=a)),
                     upload.map(lambda a: models.Action(upload_action=a)))


def _wrapped(children: Strategy[models.Action]) -> Strategy[models.Action]:
    some = st.lists(children, min_size=1, max_size=3)  # Diego refuses an empty serial/parallel
    source = text(max_size=8)
    return st.one_of(
        st.builds(models.TimeoutAction, action=children, timeout_ms=st.integers(1, 2**31),
                  log_source=source).map(lambda a: models.Action(timeout_action=a)),
        st.builds(models.TryAction, action=children, log_source=source).map(
            lambda a: models.Action(try_action=a)),
        st.builds(models.EmitProgressAction, action=children, start_message=text(), success_message=text(),
                  failure_message_prefix=text(), log_source=source).map(
            lambda a: models.Action(emit_progress_action=a)),
        st.builds(models.SerialAction, actions=some, log_source=source).map(
            lambda a: models.Action(serial_action=a)),
        st.builds(models.ParallelAction, actions=some, log_source=source).map(
            lambda a: models.Action(parallel_action=a)),
        st.builds(models.CodependentAction, actions=some, log_source=source).map(
            lambda a: models.Action(codependent_action=a)),
    )


def actions(max_leaves: int = 6) -> Strategy[models.Action]:
    """Valid action trees: run (path and user set), download (from, to, user; a checksum only
    with its algorithm), upload (from, to, user), and timeout (timeout_ms > 0), try,
    emit-progress, serial, parallel and codependent (at least one action) around them."""
    return st.recursive(_leaf_actions(), _wrapped, max_leaves=max_leaves)


# -- the rest of a DesiredLRP and a TaskDefinition -------------------------------------------------------
def _ipv4() -> Strategy[str]:
    return st.tuples(*[st.integers(0, 255)] * 4).map(lambda o: ".".join(map(str, o)))


@st.composite
def _destination(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["ip", "cidr", "range"]))
    if kind == "ip":
        return draw(_ipv4())
    if kind == "cidr":
        return f"{draw(_ipv4())}/{draw(st.integers(0, 32))}"
    a, b = sorted(draw(st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=2)))
    return f"{_dotted(a)}-{_dotted(b)}"


def _dotted(n: int) -> str:
    return ".".join(str(n >> shift & 255) for shift in (24, 16, 8, 0))


@st.composite
def egress_rules(draw: st.DrawFn) -> models.SecurityGroupRule:
    """A security group rule Diego accepts: tcp/udp with ports or a port range (not both), icmp
    with icmp_info and no ports, all with neither; destinations are IPs, CIDRs or ranges."""
    protocol = draw(st.sampled_from([*PROTOCOLS_WITH_PORTS, "icmp", "all"]))
    rule = models.SecurityGroupRule(protocol=protocol, destinations=draw(st.lists(_destination(), min_size=1,
                                                                                  max_size=3)),
                                    log=draw(st.booleans()))
    if protocol in PROTOCOLS_WITH_PORTS:
        if draw(st.booleans()):
            rule.ports.extend(draw(st.lists(ports, min_size=1, max_size=3)))
        else:
            start, end = sorted(draw(st.lists(ports, min_size=2, max_size=2)))
            rule.port_range.CopyFrom(models.PortRange(start=start, end=end))
    elif protocol == "icmp":
        icmp = models.ICMPInfo(type=draw(st.integers(0, 255)), code=draw(st.integers(0, 255)))
        rule.icmp_info.CopyFrom(icmp)
    return rule


def _checks() -> Strategy[list[models.Check]]:
    tcp = st.builds(models.TCPCheck, port=ports, connect_timeout_ms=st.integers(0, 60_000),
                    interval_ms=st.integers(0, 60_000)).map(lambda c: models.Check(tcp_check=c))
    http = st.builds(models.HTTPCheck, port=ports, request_timeout_ms=st.integers(0, 60_000),
                     path=st.from_regex(r"/[a-z0-9/]{0,15}", fullmatch=True),
                     interval_ms=st.integers(0, 60_000)).map(lambda c: models.Check(http_check=c))
    return st.lists(tcp | http, max_size=2)


def _check_definitions() -> Strategy[models.CheckDefinition]:
    return st.builds(models.CheckDefinition, checks=_checks(), readiness_checks=_checks(),
                     log_source=text(max_size=8))


def _placement_tags() -> Strategy[list[str]]:
    return st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True), max_size=2)


def _annotation() -> Strategy[str]:
    return text(max_size=200)


def _common(draw: st.DrawFn, message: models.DesiredLRP | models.TaskDefinition) -> None:
    """The fields a DesiredLRP and a TaskDefinition share, drawn valid."""
    message.root_fs = draw(st.sampled_from(ROOTFSES))
    message.environment_variables.extend(draw(environment()))
    message.disk_mb = draw(st.integers(0, 4096))
    message.memory_mb = draw(st.integers(0, 4096))
    message.cpu_weight = draw(st.integers(0, 100))
    message.privileged = draw(st.booleans())
    message.log_source = draw(text(max_size=8))
    message.annotation = draw(_annotation())
    message.egress_rules.extend(draw(st.lists(egress_rules(), max_size=2)))
    message.max_pids = draw(st.integers(0, 4096))
    message.certificate_properties.CopyFrom(models.CertificateProperties(
        organizational_unit=draw(st.lists(text(1, 12), max_size=2))))
    if draw(st.booleans()):
        message.log_rate_limit.CopyFrom(models.LogRateLimit(bytes_per_second=draw(st.integers(-1, 2**31))))
    if draw(st.booleans()):
        properties = draw(st.dictionaries(text(1, 12), text(), max_size=SMALL))
        message.network.CopyFrom(models.Network(properties=properties))
    for key, value in draw(metric_tags()).items():
        message.metric_tags[key].CopyFrom(value)


@st.composite
def desired_lrps(draw: st.DrawFn, process_guids: Strategy[str] | None = None,
                 domain: Strategy[str] | None = None,
                 instances: Strategy[int] | None = None) -> models.DesiredLRP:
    """DesiredLRPs a BBS accepts (Diego's ``DesiredLRP.Validate``): a guid matching
    ``^[a-zA-Z0-9_-]+$``, a domain, a rootfs URL with a scheme, an action, metric tags, limits
    not negative, cpu_weight at most 100, ``cf-router`` routes, valid checks and egress rules.
    ``instances`` defaults to 0 to 3."""
    lrp = models.DesiredLRP(process_guid=draw(guids() if process_guids is None else process_guids),
                            domain=draw(domains() if domain is None else domain),
                            instances=draw(st.integers(0, 3) if instances is None else instances))
    _common(draw, lrp)
    lrp.action.CopyFrom(draw(actions()))
    for name in ("setup", "monitor"):
        if draw(st.booleans()):
            getattr(lrp, name).CopyFrom(draw(actions(max_leaves=3)))
    lrp.start_timeout_ms = draw(st.integers(0, 3_600_000))
    lrp.ports.extend(draw(st.lists(ports, max_size=4)))
    lrp.routes.CopyFrom(draw(cf_routes()))
    lrp.log_guid = draw(guids())
    lrp.PlacementTags.extend(draw(_placement_tags()))
    if draw(st.booleans()):
        lrp.check_definition.CopyFrom(draw(_check_definitions()))
    lrp.update_strategy = draw(st.sampled_from([models.DesiredLRP.ROLLING, models.DesiredLRP.RECREATE]))
    return lrp


@st.composite
def task_definitions(draw: st.DrawFn, placement_tags: Strategy[list[str]] | None = None,
                     root_fs: Strategy[str] | None = None) -> models.TaskDefinition:
    """TaskDefinitions a BBS accepts (Diego's ``TaskDefinition.Validate``): a rootfs URL with a
    scheme, an action, limits not negative. No ``completion_callback_url``: a real BBS would
    POST to it."""
    definition = models.TaskDefinition()
    _common(draw, definition)
    if root_fs is not None:
        definition.root_fs = draw(root_fs)
    definition.action.CopyFrom(draw(actions()))
    definition.log_guid = draw(guids())
    definition.result_file = draw(st.sampled_from(["", "/tmp/result", "/home/vcap/out.json"]))
    definition.placement_tags.extend(draw(_placement_tags() if placement_tags is None else placement_tags))
    return definition


def desire_task_requests(task_guids: Strategy[str] | None = None, domain: Strategy[str] | None = None,
                         definitions: Strategy[models.TaskDefinition] | None = None,
                         ) -> Strategy[models.DesireTaskRequest]:
    """DesireTaskRequests a BBS accepts: a task_guid matching ``^[a-zA-Z0-9_-]+$``, a domain and
    a valid definition."""
    return st.builds(models.DesireTaskRequest, task_guid=guids() if task_guids is None else task_guids,
                     domain=domains() if domain is None else domain,
                     task_definition=task_definitions() if definitions is None else definitions)


@st.composite
def desired_lrp_updates(draw: st.DrawFn, instances: Strategy[int] | None = None) -> models.DesiredLRPUpdate:
    """DesiredLRPUpdates a BBS accepts: any of instances (not negative), routes, annotation,
    metric tags. Image credentials are left out (Diego wants both or neither)."""
    update = models.DesiredLRPUpdate()
    if draw(st.booleans()):
        update.instances = draw(st.integers(0, 3) if instances is None else instances)
    if draw(st.booleans()):
        update.routes.CopyFrom(draw(cf_routes()))
    if draw(st.booleans()):
        update.annotation = draw(_annotation())
    if draw(st.booleans()):
        for key, value in draw(metric_tags()).items():
            update.metric_tags[key].CopyFrom(value)
    return update


def updated_desired_lrp(lrp: models.DesiredLRP, change: models.DesiredLRPUpdate) -> models.DesiredLRP:
    """What Diego's UpdateDesiredLRP makes of ``lrp`` for an update ``desired_lrp_updates()``
    draws: the fields the update sets, nothing else (the oracle to read a BBS's answer against;
    ``modification_tag`` aside, which the BBS moves on)."""
    after = models.DesiredLRP()
    after.CopyFrom(lrp)
    if change.HasField("instances"):
        after.instances = change.instances
    if change.HasField("routes"):
        after.routes.CopyFrom(change.routes)
    if change.HasField("annotation"):
        after.annotation = change.annotation
    if change.metric_tags:
        after.ClearField("metric_tags")
        for key, value in change.metric_tags.items():
            after.metric_tags[key].CopyFrom(value)
    return after
