"""Diego's rep API: the JSON of ``code.cloudfoundry.org/rep`` (``models``) and the client the
auctioneer and the BBS call reps with (``RepClient``). The hollow cells that serve it are
``pytest_diego.cluster.cell``."""

from pytest_diego.rep.client import RepClient, RepError
from pytest_diego.rep.models import (
    LRP,
    CellState,
    LRPUpdate,
    RepJSONError,
    Resources,
    RootFSProviders,
    Task,
    Work,
    encode,
)

__all__ = ["LRP", "CellState", "LRPUpdate", "RepClient", "RepError", "RepJSONError", "Resources",
           "RootFSProviders", "Task", "Work", "encode"]
