"""The embedded Diego: BBS, auctioneer, cells, route emitter and router as real OS processes.

``EmbeddedCluster.start(ClusterConfig(...))`` starts one; ``EmbeddedCluster.attach(state_dir)``
uses one started elsewhere. Exports load lazily, so that each component process
(``python -m pytest_diego.cluster.<component>``) does not pay for the launcher's imports.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_diego.cluster.children import CellHandle
    from pytest_diego.cluster.cluster_config import ClusterConfig, ClusterConfigError
    from pytest_diego.cluster.faults import ClusterError
    from pytest_diego.cluster.launcher import EmbeddedCluster
    from pytest_diego.cluster.process import ComponentStartError
    from pytest_diego.cluster.state import ClusterStateError, TLSFiles

_EXPORTS = {
    "CellHandle": "children", "ClusterConfig": "cluster_config", "ClusterConfigError": "cluster_config",
    "ClusterError": "faults", "EmbeddedCluster": "launcher", "ComponentStartError": "process",
    "ClusterStateError": "state", "TLSFiles": "state",
}

__all__ = [
    "CellHandle", "ClusterConfig", "ClusterConfigError", "ClusterError", "ClusterStateError",
    "ComponentStartError", "EmbeddedCluster", "TLSFiles",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"pytest_diego.cluster.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'pytest_diego.cluster' has no attribute {name!r}")
