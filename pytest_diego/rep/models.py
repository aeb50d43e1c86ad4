"""The JSON Diego's rep API speaks, as Go's ``encoding/json`` writes and reads rep's structs.

Shapes are those of ``code.cloudfoundry.org/rep`` ``resources.go`` and ``rootfs_providers.go``:
a field with a json tag goes by its tag (``rep_url``, ``cell_id``, ``cell_index``,
``instance_guid``, ``state``, ``failed``, and ActualLRPKey's ``process_guid``, ``index``,
``domain``), every other by its Go name (``RootFSProviders``, ``AvailableResources``,
``MemoryMB``, ``TaskGuid``, ``RootFs``, ...); embedded structs' fields are inlined where they are
embedded; keys come in the struct's field order, a map's keys sorted; a nil slice is ``null``;
``Work.cell_id`` is left out when empty. A Task's ``state`` is the BBS Task_State name
(``"Invalid"``, ``"Running"``, ``"Completed"``). Encoding matches ``json.NewEncoder(w).Encode``:
no spaces, ``<``, ``>`` and ``&`` escaped, a trailing newline. Decoding follows
``json.Unmarshal``: keys matched without regard to case, unknown keys and nulls ignored, a value
of the wrong type an error naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ARBITRARY, FIXED_SET = "arbitrary", "fixed_set"
_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                             "\u2028": "\\u2028", "\u2029": "\\u2029"})
_INT32 = (-(2**31), 2**31 - 1)


class RepJSONError(ValueError):
    """A rep API body that Go's decoder would refuse; the message names the field."""


def encode(value: Any) -> bytes:
    """``json.NewEncoder(w).Encode(value)``: compact, HTML characters escaped, newline-terminated."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False).translate(_GO_ESCAPES)
    return (text + "\n").encode()


# -- rootfs providers ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RootFSProviders:
    """``rep.RootFSProviders``: scheme -> arbitrary (any rootfs) or a fixed set of names."""

    arbitrary: tuple[str, ...] = ()
    fixed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        providers: dict[str, Any] = {scheme: {"type": ARBITRARY} for scheme in self.arbitrary}
        providers.update({scheme: {"set": {name: {} for name in sorted(names)}, "type": FIXED_SET}
                          for scheme, names in self.fixed.items()})
        return dict(sorted(providers.items()))

    @classmethod
    def from_json(cls, value: Any, where: str = "RootFSProviders") -> RootFSProviders:
        arbitrary, fixed = [], {}
        for scheme, provider in _object(value, where).items():
            body = _fields(provider, f"{where}.{scheme}")
            kind = body.get("type")
            if kind == ARBITRARY:
                arbitrary.append(scheme)
            elif kind == FIXED_SET:
                fixed[scheme] = tuple(sorted(_object(body.get("set") or {}, f"{where}.{scheme}.set")))
            # another type: rep's unmarshalRootFSProvider keeps a nil provider, which matches nothing
        return cls(tuple(sorted(arbitrary)), fixed)

    def match(self, root_fs: str) -> bool:
        """``RootFSProviders.Match``: the scheme's provider; a fixed set must hold the opaque part."""
        parts = urlsplit(root_fs)
        if parts.scheme in self.arbitrary:
            return True
        names = self.fixed.get(parts.scheme)
        if names is None or parts.netloc or parts.query or parts.fragment or parts.path.startswith("/"):
            return False
        return parts.path in names


# -- resources ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resources:
    """``rep.Resources``: what a cell has (total) or has left (available)."""

    memory_mb: int
    disk_mb: int
    containers: int

    def to_json(self) -> dict[str, int]:
        return {"MemoryMB": self.memory_mb, "DiskMB": self.disk_mb, "Containers": self.containers}

    @classmethod
    def from_json(cls, value: Any, where: str) -> Resources:
        f = _fields(value, where)
        return cls(_int32(f, "memorymb", where), _int32(f, "diskmb", where), _int(f, "containers", where))


# -- work ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LRP:
    """``rep.LRP``: an ActualLRP instance to start, or one a cell holds (with its ``state``)."""

    process_guid: str
    index: int
    domain: str
    memory_mb: int
    disk_mb: int
    root_fs: str
    instance_guid: str = ""
    placement_tags: tuple[str, ...] | None = None
    volume_drivers: tuple[str, ...] | None = None
    max_pids: int = 0
    state: str = ""

    @property
    def identifier(self) -> str:
        return f"{self.process_guid}.{self.index}"

    def to_json(self) -> dict[str, Any]:
        return {"instance_guid": self.instance_guid, "process_guid": self.process_guid, "index": self.index,
                "domain": self.domain, "PlacementTags": _strings(self.placement_tags),
                "VolumeDrivers": _strings(self.volume_drivers), "RootFs": self.root_fs,
                "MemoryMB": self.memory_mb, "DiskMB": self.disk_mb, "MaxPids": self.max_pids,
                "state": self.state}

    @classmethod
    def from_json(cls, value: Any, where: str = "LRPs[]") -> LRP:
        f = _fields(value, where)
        return cls(process_guid=_str(f, "process_guid", where), index=_int32(f, "index", where),
                   domain=_str(f, "domain", where), memory_mb=_int32(f, "memorymb", where),
                   disk_mb=_int32(f, "diskmb", where), root_fs=_str(f, "rootfs", where),
                   instance_guid=_str(f, "instance_guid", where),
                   placement_tags=_str_list(f, "placementtags", where),
                   volume_drivers=_str_list(f, "volumedrivers", where), max_pids=_int32(f, "maxpids", where),
                   state=_str(f, "state", where))


TASK_STATES = ("Invalid", "Pending", "Running", "Completed", "Resolving")
"""The BBS's Task_State names, which a rep Task's ``state`` is written as."""


@dataclass(frozen=True)
class Task:
    """``rep.Task``: a Task to start, or one a cell holds (``state`` Running or Completed)."""

    task_guid: str
    domain: str
    memory_mb: int
    disk_mb: int
    root_fs: str
    placement_tags: tuple[str, ...] | None = None
    volume_drivers: tuple[str, ...] | None = None
    max_pids: int = 0
    state: str = "Invalid"
    failed: bool = False

    @property
    def identifier(self) -> str:
        return self.task_guid

    def to_json(self) -> dict[str, Any]:
        return {"TaskGuid": self.task_guid, "Domain": self.domain,
                "PlacementTags": _strings(self.placement_tags),
                "VolumeDrivers": _strings(self.volume_drivers), "RootFs": self.root_fs,
                "MemoryMB": self.memory_mb, "DiskMB": self.disk_mb, "MaxPids": self.max_pids,
                "state": self.state, "failed": self.failed}

    @classmethod
    def from_json(cls, value: Any, where: str = "Tasks[]") -> Task:
        f = _fields(value, where)
        state = f.get("state")
        if state is not None and state not in TASK_STATES:
            raise RepJSONError(f"{where}.state: invalid state: {state!r} (one of {', '.join(TASK_STATES)})")
        failed = f.get("failed")
        if failed is not None and not isinstance(failed, bool):
            raise RepJSONError(f"{where}.failed: expected true or false, got {failed!r}")
        return cls(task_guid=_str(f, "taskguid", where), domain=_str(f, "domain", where),
                   memory_mb=_int32(f, "memorymb", where), disk_mb=_int32(f, "diskmb", where),
                   root_fs=_str(f, "rootfs", where), placement_tags=_str_list(f, "placementtags", where),
                   volume_drivers=_str_list(f, "volumedrivers", where), max_pids=_int32(f, "maxpids", where),
                   state=state or "Invalid", failed=bool(failed))


@dataclass(frozen=True)
class Work:
    """``rep.Work``: what ``POST /work`` carries, and what it answers (the work that failed)."""

    lrps: tuple[LRP, ...] | None = None
    tasks: tuple[Task, ...] | None = None
    cell_id: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "LRPs": None if self.lrps is None else [lrp.to_json() for lrp in self.lrps],
            "Tasks": None if self.tasks is None else [task.to_json() for task in self.tasks]}
        if self.cell_id:
            out["cell_id"] = self.cell_id
        return out

    @classmethod
    def from_json(cls, value: Any) -> Work:
        f = _fields(value, "Work")
        lrps = f.get("lrps")
        tasks = f.get("tasks")
        return cls(
            lrps=None if lrps is None else tuple(LRP.from_json(x, f"LRPs[{i}]")
                                                 for i, x in enumerate(_list(lrps, "LRPs"))),
            tasks=None if tasks is None else tuple(Task.from_json(x, f"Tasks[{i}]")
                                                   for i, x in enumerate(_list(tasks, "Tasks"))),
            cell_id=_str(f, "cell_id", "Work"))


@dataclass(frozen=True)
class LRPUpdate:
    """``rep.LRPUpdate``: what ``PUT /v2/lrps/:process_guid/instances/:instance_guid`` carries."""

    instance_guid: str
    process_guid: str
    index: int
    domain: str
    internal_routes: tuple[str, ...] | None = None  # hostnames
    metric_tags: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        routes = None if self.internal_routes is None else [{"hostname": h} for h in self.internal_routes]
        return {"instance_guid": self.instance_guid, "process_guid": self.process_guid, "index": self.index,
                "domain": self.domain, "internal_routes": routes,
                "metric_tags": None if self.metric_tags is None else dict(sorted(self.metric_tags.items()))}

    @classmethod
    def from_json(cls, value: Any) -> LRPUpdate:
        f = _fields(value, "LRPUpdate")
        routes = f.get("internal_routes")
        tags = f.get("metric_tags")
        hostnames = None if routes is None else tuple(
            _str(_fields(r, f"internal_routes[{i}]"), "hostname", f"internal_routes[{i}]")
            for i, r in enumerate(_list(routes, "internal_routes")))
        metric_tags = None if tags is None else {
            k: _string(v, f"metric_tags.{k}") for k, v in _object(tags, "metric_tags").items()}
        return cls(instance_guid=_str(f, "instance_guid", "LRPUpdate"),
                   process_guid=_str(f, "process_guid", "LRPUpdate"), index=_int32(f, "index", "LRPUpdate"),
                   domain=_str(f, "domain", "LRPUpdate"), internal_routes=hostnames, metric_tags=metric_tags)


# -- cell state ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CellState:
    """``rep.CellState``: what ``GET /state`` answers."""

    rep_url: str
    cell_id: str
    cell_index: int
    rootfs_providers: RootFSProviders
    available: Resources
    total: Resources
    lrps: tuple[LRP, ...] = ()
    tasks: tuple[Task, ...] = ()
    starting_container_count: int = 0
    zone: str = ""
    evacuating: bool = False
    volume_drivers: tuple[str, ...] = ()
    placement_tags: tuple[str, ...] = ()
    optional_placement_tags: tuple[str, ...] = ()
    proxy_memory_allocation_mb: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"rep_url": self.rep_url, "cell_id": self.cell_id, "cell_index": self.cell_index,
                "RootFSProviders": self.rootfs_providers.to_json(),
                "AvailableResources": self.available.to_json(), "TotalResources": self.total.to_json(),
                "LRPs": [lrp.to_json() for lrp in self.lrps],
                "Tasks": [task.to_json() for task in self.tasks],
                "StartingContainerCount": self.starting_container_count, "Zone": self.zone,
                "Evacuating": self.evacuating, "VolumeDrivers": list(self.volume_drivers),
                "PlacementTags": list(self.placement_tags),
                "OptionalPlacementTags": list(self.optional_placement_tags),
                "ProxyMemoryAllocationMB": self.proxy_memory_allocation_mb}

    @classmethod
    def from_json(cls, value: Any) -> CellState:
        f = _fields(value, "CellState")
        evacuating = f.get("evacuating")
        if evacuating is not None and not isinstance(evacuating, bool):
            raise RepJSONError(f"CellState.Evacuating: expected true or false, got {evacuating!r}")
        return cls(
            rep_url=_str(f, "rep_url", "CellState"), cell_id=_str(f, "cell_id", "CellState"),
            cell_index=_int(f, "cell_index", "CellState"),
            rootfs_providers=RootFSProviders.from_json(f.get("rootfsproviders") or {}),
            available=Resources.from_json(f.get("availableresources") or {}, "AvailableResources"),
            total=Resources.from_json(f.get("totalresources") or {}, "TotalResources"),
            lrps=tuple(LRP.from_json(x, f"LRPs[{i}]")
                       for i, x in enumerate(_list(f.get("lrps") or [], "LRPs"))),
            tasks=tuple(Task.from_json(x, f"Tasks[{i}]")
                        for i, x in enumerate(_list(f.get("tasks") or [], "Tasks"))),
            starting_container_count=_int(f, "startingcontainercount", "CellState"),
            zone=_str(f, "zone", "CellState"), evacuating=bool(evacuating),
            volume_drivers=_str_list(f, "volumedrivers", "CellState") or (),
            placement_tags=_str_list(f, "placementtags", "CellState") or (),
            optional_placement_tags=_str_list(f, "optionalplacementtags", "CellState") or (),
            proxy_memory_allocation_mb=_int(f, "proxymemoryallocationmb", "CellState"))


# -- Go's decoding rules ------------------------------------------------------------------------
def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RepJSONError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _fields(value: Any, where: str) -> dict[str, Any]:
    """A struct's fields by lower-cased key: Go matches keys to field names regardless of case."""
    return {key.lower(): item for key, item in _object(value, where).items()}


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise RepJSONError(f"{where}: expected a JSON array, got {type(value).__name__}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise RepJSONError(f"{where}: expected a string, got {value!r}")
    return value


def _str(fields: dict[str, Any], key: str, where: str) -> str:
    value = fields.get(key)
    return "" if value is None else _string(value, f"{where}.{key}")


def _int(fields: dict[str, Any], key: str, where: str) -> int:
    value = fields.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise RepJSONError(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def _int32(fields: dict[str, Any], key: str, where: str) -> int:
    value = _int(fields, key, where)
    if not _INT32[0] <= value <= _INT32[1]:
        raise RepJSONError(f"{where}.{key}: {value} does not fit a 32-bit integer")
    return value


def _str_list(fields: dict[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    value = fields.get(key)
    if value is None:
        return None
    items = _list(value, f"{where}.{key}")
    return tuple(_string(item, f"{where}.{key}[{i}]") for i, item in enumerate(items))


def _strings(values: Sequence[str] | None) -> list[str] | None:
    return None if values is None else list(values)
