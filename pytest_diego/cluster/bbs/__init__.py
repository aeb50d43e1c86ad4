"""The embedded Diego BBS: the database node (API, store, convergence, events, cell presences).

In-process: ``BBSServer(BBSConfig(state_dir=...)).start()``; as a process:
``python -m pytest_diego.cluster.bbs --state-dir DIR``.
"""

from pytest_diego.cluster.bbs.config import BBSConfig, ConfigError
from pytest_diego.cluster.bbs.server import BBSServer

__all__ = ["BBSConfig", "BBSServer", "ConfigError"]
