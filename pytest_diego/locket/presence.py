"""A cell's presence as Diego keeps it in Locket: the BBS ``CellPresence`` as Go's ``json.Marshal``
writes it, in the ``value`` of a PRESENCE resource keyed by the cell id.

Field names and shapes follow the gogoproto json tags of bbs ``models/cells.proto``:
``cell_id``, ``rep_address``, ``zone`` and ``rep_url`` always; ``capacity`` when set;
``rootfs_provider_list``, ``placement_tags`` and ``optional_placement_tags`` only when not empty;
a provider's ``properties`` only when not empty. Keys come in the struct's field order, with no
spaces, and ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as Go escapes them.

Two generations exist: the rep as its source stands writes no ``annotations``; the BBS models
since their ``annotations`` field (bbs b2385bea) always write it (``{}`` when empty, keys sorted).
``marshal_cell_presence(..., with_annotations=True)`` writes the second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_diego.bbs import models as bbs_models
from pytest_diego.locket import models

PRELOADED_ROOTFS_SCHEME = "preloaded"
PRELOADED_OCI_ROOTFS_SCHEME = "preloaded+layer"
EXTRA_ROOTFS_SCHEME = "extra"

_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                             "\u2028": "\\u2028", "\u2029": "\\u2029"})
_INT32 = (-(2**31), 2**31 - 1)


def new_cell_presence(
    cell_id: str, rep_address: str, rep_url: str, zone: str, *, memory_mb: int, disk_mb: int,
    containers: int, rootfs_providers: Iterable[str] = (), preloaded_rootfses: Iterable[str] = (),
    extra_rootfses: Iterable[str] = (), placement_tags: Iterable[str] = (),
    optional_placement_tags: Iterable[str] = (), annotations: Mapping[str, str] | None = None,
) -> bbs_models.CellPresence:
    """The presence Diego's rep builds (bbs ``models.NewCellPresence``): providers ``preloaded`` and
    ``preloaded+layer`` with the preloaded rootfses, ``extra`` with the extra ones, then each
    supported provider (e.g. ``docker``) with no properties."""
    preloaded = list(preloaded_rootfses)
    providers = [bbs_models.Provider(name=PRELOADED_ROOTFS_SCHEME, properties=preloaded),
                 bbs_models.Provider(name=PRELOADED_OCI_ROOTFS_SCHEME, properties=preloaded),
                 bbs_models.Provider(name=EXTRA_ROOTFS_SCHEME, properties=list(extra_rootfses))]
    providers += [bbs_models.Provider(name=name) for name in rootfs_providers]
    return bbs_models.CellPresence(
        cell_id=cell_id, rep_address=rep_address, rep_url=rep_url, zone=zone,
        capacity=bbs_models.CellCapacity(memory_mb=memory_mb, disk_mb=disk_mb, containers=containers),
        rootfs_providers=providers, placement_tags=list(placement_tags),
        optional_placement_tags=list(optional_placement_tags), annotations=dict(annotations or {}))


def marshal_cell_presence(presence: bbs_models.CellPresence, *, with_annotations: bool = False) -> str:
    """The exact JSON Diego's rep puts in its presence's ``value``."""
    if presence.annotations and not with_annotations:
        raise ValueError(
            f"cell {presence.cell_id!r} has annotations, which the rep's format without them would "
            "drop; marshal with with_annotations=True (the BBS models since bbs b2385bea)")
    out: dict[str, Any] = {"cell_id": presence.cell_id, "rep_address": presence.rep_address,
                           "zone": presence.zone}
    if presence.HasField("capacity"):
        c = presence.capacity
        out["capacity"] = {"memory_mb": c.memory_mb, "disk_mb": c.disk_mb, "containers": c.containers}
    if presence.rootfs_providers:
        out["rootfs_provider_list"] = [_provider(p) for p in presence.rootfs_providers]
    if presence.placement_tags:
        out["placement_tags"] = list(presence.placement_tags)
    if presence.optional_placement_tags:
        out["optional_placement_tags"] = list(presence.optional_placement_tags)
    out["rep_url"] = presence.rep_url
    if with_annotations:
        out["annotations"] = dict(sorted(presence.annotations.items()))
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False).translate(_GO_ESCAPES)


def _provider(provider: bbs_models.Provider) -> dict[str, Any]:
    if provider.properties:
        return {"name": provider.name, "properties": list(provider.properties)}
    return {"name": provider.name}


def unmarshal_cell_presence(text: str | bytes) -> bbs_models.CellPresence:
    """Read a presence's ``value`` as the BBS does (Go's ``json.Unmarshal``: keys matched without
    regard to case, unknown keys and nulls ignored). Raises ValueError naming the bad field."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError(f"cell presence is not JSON: {e}") from None
    fields = _fields(data, "cell presence")
    presence = bbs_models.CellPresence()
    for key, value in fields.items():
        if value is None:
            continue
        if key in ("cell_id", "rep_address", "zone", "rep_url"):
            setattr(presence, key, _string(value, key))
        elif key == "capacity":
            capacity = _fields(value, key)
            for name in ("memory_mb", "disk_mb", "containers"):
                if capacity.get(name) is not None:
                    setattr(presence.capacity, name, _int32(capacity[name], f"capacity.{name}"))
            presence.capacity.SetInParent()
        elif key == "rootfs_provider_list":
            for i, item in enumerate(_list(value, key)):
                provider = _fields(item, f"{key}[{i}]")
                presence.rootfs_providers.add(
                    name=_string(provider.get("name") or "", f"{key}[{i}].name"),
                    properties=[_string(p, f"{key}[{i}].properties") for p in
                                _list(provider.get("properties") or [], f"{key}[{i}].properties")])
        elif key in ("placement_tags", "optional_placement_tags"):
            getattr(presence, key).extend(_string(tag, key) for tag in _list(value, key))
        elif key == "annotations":
            for name, annotation in _object(value, key).items():
                presence.annotations[name] = _string(annotation, f"annotations.{name}")
    return presence


def cells_from_resources(resources: Iterable[models.Resource]
                         ) -> tuple[list[bbs_models.CellPresence], dict[str, str]]:
    """Presences from FetchAll(PRESENCE) as the BBS reads them; a value that does not decode is
    skipped (Diego's BBS logs and skips it too) and returned by key with the reason."""
    cells: list[bbs_models.CellPresence] = []
    unreadable: dict[str, str] = {}
    for resource in resources:
        try:
            cells.append(unmarshal_cell_presence(resource.value))
        except ValueError as e:
            unreadable[resource.key] = str(e)
    return cells, unreadable


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"cell presence {where}: expected a JSON object, got {type(value).__name__}")
    return value


def _fields(value: Any, where: str) -> dict[str, Any]:
    """A struct's fields by lower-cased name: Go matches JSON keys to fields regardless of case."""
    return {key.lower(): item for key, item in _object(value, where).items()}


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"cell presence {where}: expected a JSON array, got {type(value).__name__}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"cell presence {where}: expected a string, got {value!r}")
    return value


def _int32(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not _INT32[0] <= value <= _INT32[1]:
        raise ValueError(f"cell presence {where}: expected a 32-bit integer, got {value!r}")
    return value
