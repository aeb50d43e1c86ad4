"""The cells the BBS knows of: their presences in Locket, as Diego's ``serviceclient`` reads them.

``cells()`` is ``FetchAll(PRESENCE)`` decoded as the BBS decodes it (a value that does not decode
is logged and skipped); ``cell(cell_id)`` is ``Fetch(cell_id)`` (Diego's ``CellById``), None when
Locket holds no such presence. Decoding a presence's JSON costs ~50-60 µs, so each decoded
presence is kept by its JSON value: cells refresh their presences every 5 s with the same value,
and listing 1000 cells then costs the FetchAll alone. The cache holds only the values the last
listing saw.

A Locket that cannot be reached raises ``LocketClientError``: the Cells route answers it in band
and convergence skips its run, as Diego's do. Without a Locket (a BBS started alone, for tests of
its API) no cell is present.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from pytest_diego.bbs import models
from pytest_diego.lager import Logger
from pytest_diego.locket import LocketClient, unmarshal_cell_presence
from pytest_diego.locket import models as locket_models
from pytest_diego.locket.errors import ResourceNotFoundError

FETCH_EACH_UP_TO = 8
"""Up to this many cells are looked up one Fetch each; more are read with one FetchAll."""


class Presence:
    """A decoded presence and its protobuf bytes (the Cells route sends the bytes as they are)."""

    __slots__ = ("blob", "msg")

    def __init__(self, msg: models.CellPresence) -> None:
        self.msg = msg
        self.blob = msg.SerializeToString()


class CellDirectory:
    """Present cells from Locket, decoded once per distinct presence value."""

    def __init__(self, locket: LocketClient | None, logger: Logger) -> None:
        self.locket = locket
        self._logger = logger
        self._lock = threading.Lock()
        self._decoded: dict[str, Presence] = {}

    def cells(self) -> dict[str, Presence]:
        """Every present cell by id (Diego's ``Cells``); raises ``LocketClientError``."""
        if self.locket is None:
            return {}
        resources = self.locket.fetch_all(locket_models.PRESENCE)
        with self._lock:
            known = self._decoded
        decoded: dict[str, Presence] = {}
        cells: dict[str, Presence] = {}
        for resource in resources:
            presence = known.get(resource.value) or decoded.get(resource.value) or self._decode(resource)
            if presence is None:
                continue
            decoded[resource.value] = presence
            cells[presence.msg.cell_id] = presence
        with self._lock:
            self._decoded = decoded
        return cells

    def cell(self, cell_id: str) -> Presence | None:
        """One cell's presence (Diego's ``CellById``), None when it has none; raises
        ``LocketClientError`` when Locket cannot say."""
        if self.locket is None:
            return None
        try:
            resource = self.locket.fetch(cell_id)
        except ResourceNotFoundError:
            return None
        with self._lock:
            known = self._decoded.get(resource.value)
        return known or self._decode(resource)

    def cells_of(self, cell_ids: Iterable[str]) -> dict[str, Presence]:
        """The present cells among ``cell_ids``: a Fetch each for a few, one FetchAll for more."""
        wanted = set(cell_ids)
        if len(wanted) > FETCH_EACH_UP_TO:
            return {cell_id: p for cell_id, p in self.cells().items() if cell_id in wanted}
        found = {cell_id: self.cell(cell_id) for cell_id in sorted(wanted)}
        return {cell_id: p for cell_id, p in found.items() if p is not None}

    def _decode(self, resource: locket_models.Resource) -> Presence | None:
        try:
            return Presence(unmarshal_cell_presence(resource.value))
        except ValueError as e:
            self._logger.error("cells.failed-to-unmarshal-presence", e, cell_id=resource.key)
            return None

    def stop(self) -> None:
        if self.locket is not None:
            self.locket.close()
