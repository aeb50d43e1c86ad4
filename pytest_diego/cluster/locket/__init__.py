"""The embedded Locket: Diego's lock and presence service (gRPC, Locket's messages, TTL expiry,
mutual TLS when given certificates, locks kept in a SQLite file across restarts).

In-process: ``LocketServer(LocketConfig(state_dir=...)).start()``; as a process:
``python -m pytest_diego.cluster.locket --state-dir DIR``. Clients use ``pytest_diego.locket``.
"""

from pytest_diego.cluster.locket.config import ConfigError, LocketConfig
from pytest_diego.cluster.locket.server import LocketServer

__all__ = ["ConfigError", "LocketConfig", "LocketServer"]
