"""The run's embedded cluster: started and stopped by the run's owner, seen by every process.

The owner (the single process, or xdist's controller) starts the cluster the first time a test
needs it, in ``<results dir>/cluster``, and stops every process of it at the end. Processes that
run scenarios reach it through a ``ClusterLink``: the owner's own object in a single process;
in an xdist worker, a description the owner sends over the run's channel (addresses, cells, and
the TLS files' contents, which the worker writes to a private directory, since a worker may run
where the owner's files are not; a directory whose worker died is swept by the next one) and
faults the worker asks the owner to deliver, so every process of the cluster is started and
stopped by the one that owns it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol

from pytest_diego.cluster import ClusterConfig, EmbeddedCluster, control
from pytest_diego.cluster.process import mark_owner, owner_alive
from pytest_diego.cluster.state import ClusterState
from pytest_diego.pytest_support.target import Embedded


class ClusterUnavailable(RuntimeError):
    """The embedded cluster did not start (or cannot be reached); the message says why."""


class ClusterLink(Protocol):
    """How a process that runs scenarios reaches the run's embedded cluster."""

    def cluster(self) -> EmbeddedCluster: ...
    def live_cells(self) -> list[str]: ...
    def deliver(self, kind: str, target: str) -> str: ...
    def close(self) -> None: ...


class ClusterOwner:
    """Starts the embedded cluster once per run (owner side), describes it, delivers faults."""

    def __init__(self, target: Embedded, state_dir: Path) -> None:
        self.target = target
        self.state_dir = state_dir.resolve()
        self.running: EmbeddedCluster | None = None
        self.error: str | None = None

    def start(self) -> EmbeddedCluster:
        """The cluster, started on first call; ``ClusterUnavailable`` (remembered) if it fails."""
        if self.running is not None:
            return self.running
        if self.error is None:
            t = self.target
            try:
                _clear_previous_run(self.state_dir)
                self.running = EmbeddedCluster.start(ClusterConfig(
                    cells=t.cells, db=None if t.db == "sqlite" else t.db, tls=t.tls,
                    time_scale=t.time_scale, zones=t.zones, container_model=t.container_model,
                    state_dir=self.state_dir))
            except Exception as exc:
                logs = self.state_dir / "logs"
                self.error = f"the embedded Diego cluster did not start: {exc} (logs in {logs})"
            else:
                atexit.register(self.stop)
                return self.running
        raise ClusterUnavailable(self.error)

    def stop(self) -> None:
        running, self.running = self.running, None
        if running is not None:
            with contextlib.suppress(Exception):
                running.stop()

    def live_cells(self) -> list[str]:
        return [c.cell_id for c in self.start().cells if c.alive]

    def deliver(self, kind: str, target: str) -> str:
        """One fault by its nemesis name, with real signals; "was not running" if it had stopped."""
        return control.deliver(self.start(), kind, target)

    def description(self) -> dict[str, Any]:
        """What a worker needs to use the cluster: cluster.json's content, the live cells, and
        the private files' contents (cluster.json only names them, and they may not be where
        the worker runs): the TLS client files and the router status listener's credentials."""
        cluster = self.start()
        state = cluster.to_json()
        files = {f"tls.{name}": path for name, path in (state.get("tls") or {}).items()
                 if name in ("ca_file", "cert_file", "key_file")}
        router = state["components"].get("router", {})
        if router.get("status_credentials"):
            files["router.status_credentials"] = router["status_credentials"]
        return {"state": state, "live_cells": self.live_cells(),
                "private_files": {key: Path(path).read_text() for key, path in files.items()}}

    def describe(self) -> dict[str, Any]:
        """The cluster part of results.json's environment."""
        cells = [c.cell_id for c in self.running.cells] if self.running is not None else []
        return {"cells": cells}


class LocalLink:
    """The owner's own cluster, in the single process."""

    def __init__(self, owner: ClusterOwner) -> None:
        self.owner = owner

    def cluster(self) -> EmbeddedCluster:
        return self.owner.start()

    def live_cells(self) -> list[str]:
        return self.owner.live_cells()

    def deliver(self, kind: str, target: str) -> str:
        return self.owner.deliver(kind, target)

    def close(self) -> None:
        """The owner stops the cluster."""


class Describer(Protocol):
    def cluster_description(self) -> dict[str, Any]: ...
    def fault(self, kind: str, target: str) -> str: ...


class RemoteLink:
    """An xdist worker's view of the owner's cluster, built from the owner's description."""

    def __init__(self, owner: Describer) -> None:
        self.owner = owner
        self._view: EmbeddedCluster | None = None
        self._private_dir: str | None = None

    def cluster(self) -> EmbeddedCluster:
        if self._view is None:
            self._view = self._build(self.owner.cluster_description())
        return self._view

    def live_cells(self) -> list[str]:
        return list(self.owner.cluster_description()["live_cells"])

    def deliver(self, kind: str, target: str) -> str:
        return self.owner.fault(kind, target)

    def close(self) -> None:
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)

    def _build(self, description: dict[str, Any]) -> EmbeddedCluster:
        """A view of the cluster whose private files are copies in a directory only we read."""
        state = json.loads(json.dumps(description["state"]))
        files = description.get("private_files") or {}
        if files:
            self._private_dir = private_dir()
        for key, text in files.items():
            path = Path(self._private_dir or "") / key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            section, name = key.split(".", 1)
            entry = state["tls"] if section == "tls" else state["components"][section]
            entry[name] = str(path)
        return EmbeddedCluster(ClusterState.from_json(state), owner=False)


PRIVATE_PREFIX = "pytest-diego-cluster-"


def private_dir() -> str:
    """A new directory only this process reads, for copies of the owner's private files. First
    removes those left by workers that died without removing theirs (a SIGKILLed xdist worker):
    TLS keys must not pile up in the temp dir."""
    sweep_private_dirs()
    path = tempfile.mkdtemp(prefix=PRIVATE_PREFIX)
    mark_owner(Path(path))
    return path


def sweep_private_dirs() -> list[Path]:
    """Delete the private directories whose worker is gone; returns them."""
    swept = []
    for path in Path(tempfile.gettempdir()).glob(f"{PRIVATE_PREFIX}*"):
        if owner_alive(path) is False:  # None: being made right now, or not ours
            shutil.rmtree(path, ignore_errors=True)
            swept.append(path)
    return swept


def _clear_previous_run(state_dir: Path) -> None:
    """Remove the previous run's cluster files (its store too), unless that run is still going."""
    try:
        pid = int(json.loads((state_dir / "cluster.json").read_text())["launcher"]["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        pid = 0
    if pid > 0 and _alive(pid):
        raise RuntimeError(f"another run (pid {pid}) is using {state_dir}; "
                           "give this run its own --diego-results DIR")
    shutil.rmtree(state_dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
