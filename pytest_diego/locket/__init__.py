"""Diego's Locket API: wire models with Locket's field numbers, a typed client, and the cell
presence JSON Diego's rep keeps in it. The embedded Locket server is ``pytest_diego.cluster.locket``."""

from pytest_diego.locket import models
from pytest_diego.locket.client import LocketClient
from pytest_diego.locket.presence import (
    cells_from_resources,
    marshal_cell_presence,
    new_cell_presence,
    unmarshal_cell_presence,
)

__all__ = [
    "LocketClient",
    "cells_from_resources",
    "marshal_cell_presence",
    "models",
    "new_cell_presence",
    "unmarshal_cell_presence",
]
