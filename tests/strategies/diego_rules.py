"""The parts of Diego's validation the embedded BBS does not check, as Diego's BBS checks them
(``cloudfoundry/bbs`` models at b2385bea: ``actions.go``, ``security_groups.go``,
``check_definition.go``, ``metric_tags.go``, ``environment_variables.go``): the valid strategies
must pass these too, since the fuzz scenario sends them to real Diegos. Each returns what is wrong,
empty when nothing is."""

from __future__ import annotations

import ipaddress

from pytest_diego.bbs import models

CHECKSUMS = ("md5", "sha1", "sha256")


def action_problems(action: models.Action, where: str = "action") -> list[str]:
    set_fields = [f.name for f, _ in action.ListFields()]
    if len(set_fields) != 1:
        return [f"{where}: {len(set_fields)} actions set, not one"]
    kind = set_fields[0]
    inner = getattr(action, kind)
    problems = []
    if kind == "run_action":
        problems += [f"{where}.{n}" for n in ("path", "user") if not getattr(inner, n)]
        problems += [f"{where}.env name" for e in inner.env if not e.name]
    elif kind in ("download_action", "upload_action"):
        problems += [f"{where}.{n}" for n in ("from", "to", "user") if not getattr(inner, n)]
        if kind == "download_action":
            if bool(inner.checksum_value) != bool(inner.checksum_algorithm):
                problems.append(f"{where}: checksum value and algorithm go together")
            if inner.checksum_algorithm and inner.checksum_algorithm.lower() not in CHECKSUMS:
                problems.append(f"{where}: invalid algorithm")
    elif kind in ("timeout_action", "try_action", "emit_progress_action"):
        if not inner.HasField("action"):
            problems.append(f"{where}.action")
        else:
            problems += action_problems(inner.action, f"{where}.{kind}")
        if kind == "timeout_action" and inner.timeout_ms <= 0:
            problems.append(f"{where}.timeout")
    else:  # serial, parallel, codependent: Go decodes an empty list as nil, which Diego refuses
        if not inner.actions:
            problems.append(f"{where}.actions")
        for i, child in enumerate(inner.actions):
            problems += action_problems(child, f"{where}.{kind}[{i}]")
    return problems


def rule_problems(rule: models.SecurityGroupRule) -> list[str]:
    problems = []
    has_ports, has_range = bool(rule.ports), rule.HasField("port_range")
    if rule.protocol in ("tcp", "udp"):
        if has_ports == has_range:
            problems.append("ports or port_range, one of them")
        if has_range and not 1 <= rule.port_range.start <= rule.port_range.end:
            problems.append("port_range")
        if any(p < 1 for p in rule.ports):
            problems.append("ports")
        if rule.HasField("icmp_info"):
            problems.append("icmp_info")
    elif rule.protocol in ("icmp", "all"):
        if has_ports or has_range:
            problems.append("ports")
        if rule.HasField("icmp_info") != (rule.protocol == "icmp"):
            problems.append("icmp_info")
    else:
        problems.append("protocol")
    if not rule.destinations:
        problems.append("destinations")
    for destination in (d for joined in rule.destinations for d in joined.split(",")):
        try:
            if "/" in destination:
                ipaddress.ip_network(destination, strict=False)
            elif "-" in destination:
                first, second = (ipaddress.ip_address(x) for x in destination.split("-", 1))
                if first > second:
                    problems.append(f"destination {destination}")
            else:
                ipaddress.ip_address(destination)
        except ValueError:
            problems.append(f"destination {destination}")
    return problems


def check_problems(definition: models.CheckDefinition) -> list[str]:
    problems = []
    for check in [*definition.checks, *definition.readiness_checks]:
        kinds = [f.name for f, _ in check.ListFields()]
        if len(kinds) != 1:
            problems.append("check")
        elif not 0 < getattr(check, kinds[0]).port <= 65535:
            problems.append("port")
    return problems


def tag_problems(tags: dict[str, models.MetricTagValue] | object) -> list[str]:
    problems = []
    for key, value in tags.items():  # type: ignore[attr-defined]
        dynamic = value.dynamic in (models.MetricTagValue.INDEX, models.MetricTagValue.INSTANCE_GUID)
        if bool(value.static) == dynamic:
            problems.append(f"metric tag {key!r}: static or dynamic, one of them")
    return problems


def shared_problems(message: models.DesiredLRP | models.TaskDefinition) -> list[str]:
    problems = action_problems(message.action)
    problems += [p for rule in message.egress_rules for p in rule_problems(rule)]
    problems += ["env name" for e in message.environment_variables if not e.name]
    problems += tag_problems(message.metric_tags)
    if message.HasField("log_rate_limit") and message.log_rate_limit.bytes_per_second < -1:
        problems.append("log_rate_limit")
    if bool(message.image_username) != bool(message.image_password):
        problems.append("image_username/image_password")
    return problems


def desired_lrp_problems(lrp: models.DesiredLRP) -> list[str]:
    problems = shared_problems(lrp)
    for name in ("setup", "monitor"):
        if lrp.HasField(name):
            problems += action_problems(getattr(lrp, name), name)
    if lrp.HasField("check_definition"):
        problems += check_problems(lrp.check_definition)
    return problems
