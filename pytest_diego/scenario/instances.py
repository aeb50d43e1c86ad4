"""What Diego runs right now: desired instances, and which of them are not RUNNING."""

from __future__ import annotations

from collections.abc import Iterable

from pytest_diego.bbs import BBSClient, models


def instance_key(lrp: models.ActualLRP) -> str:
    """``process_guid/index``."""
    return f"{lrp.actual_lrp_key.process_guid}/{lrp.actual_lrp_key.index}"


def describe(lrp: models.ActualLRP) -> str:
    """``app/3 (UNCLAIMED on no cell, placement_error='...')``."""
    error = f", placement_error={lrp.placement_error!r}" if lrp.placement_error else ""
    cell = lrp.actual_lrp_instance_key.cell_id or "no cell"
    return f"{instance_key(lrp)} ({lrp.state} on {cell}{error})"


def desired_instances(bbs: BBSClient, domain: str) -> dict[str, int]:
    """process_guid -> desired instance count, for every DesiredLRP of ``domain``."""
    infos = bbs.desired_lrp_scheduling_infos(domain=domain)
    return {d.desired_lrp_key.process_guid: d.instances for d in infos}


def missing_instances(bbs: BBSClient, domain: str, exclude: Iterable[str] = (),
                      dead_cells: Iterable[str] = ()) -> list[str]:
    """Every desired instance of ``domain`` (apps in ``exclude`` left out) not RUNNING right now;
    an instance RUNNING on one of ``dead_cells`` is missing too (the BBS may not know yet)."""
    excluded, dead = set(exclude), set(dead_cells)
    wanted = {p: n for p, n in desired_instances(bbs, domain).items() if p not in excluded}
    running: dict[str, set[int]] = {}
    others: dict[str, models.ActualLRP] = {}
    for lrp in bbs.actual_lrps(domain=domain):
        key = lrp.actual_lrp_key
        if (lrp.state == "RUNNING" and lrp.presence == models.ActualLRP.ORDINARY
                and lrp.actual_lrp_instance_key.cell_id not in dead):
            running.setdefault(key.process_guid, set()).add(key.index)
        elif instance_key(lrp) not in others or lrp.presence == models.ActualLRP.ORDINARY:
            others[instance_key(lrp)] = lrp
    missing = []
    for guid, count in wanted.items():
        for index in range(count):
            if index not in running.get(guid, set()):
                record = others.get(f"{guid}/{index}")
                missing.append(describe(record) if record is not None else f"{guid}/{index} (no ActualLRP)")
    return missing
