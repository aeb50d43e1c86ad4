"""The run directory the controller shares with its xdist workers (same host, plain files).

Layout::

    manifests/<worker>.json           scenario node ids a worker collected, whether it needs a cluster
    workers/<worker>.dead             written by the controller when a worker dies: the reason
    scenarios/<key>/nodeid            the scenario's node id
    scenarios/<key>/<phase>/<worker>  barrier arrivals ("join" before setup, "start" before the body)
    scenarios/<key>/shards/<worker>.json   a worker's measurements and outcome for the scenario
    status/<worker>.json              the latest live status of a worker's running scenario

Every file is written atomically (temporary file, then ``os.replace``), so a reader never sees
half a file. Waits poll with a bounded timeout and stop early when a partner is known dead.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from pytest_diego.atomic_file import write_atomic

POLL = 0.05


class PartnerLost(Exception):
    """A partner worker died or never arrived; the message says which and why."""


def scenario_key(nodeid: str) -> str:
    return hashlib.sha1(nodeid.encode()).hexdigest()[:16]


class RunDir:
    """Files shared by the processes of one run; without a path, a temporary directory made
    on first use (so runs that never need one, like ``--help``, leave nothing behind)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self._path = Path(path) if path is not None else None

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = Path(tempfile.mkdtemp(prefix="pytest-diego-run-"))
        return self._path

    @property
    def exists(self) -> bool:
        return self._path is not None and self._path.is_dir()

    def remove(self) -> None:
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)

    def write_json(self, relative: str, data: Any) -> None:
        write_atomic(self.path / relative, json.dumps(data))

    def read_json(self, relative: str) -> Any:
        return json.loads((self.path / relative).read_text())

    # collection manifests
    def write_manifest(self, worker: str, scenarios: list[str], needs_cluster: bool) -> None:
        self.write_json(f"manifests/{worker}.json", {"scenarios": scenarios, "needs_cluster": needs_cluster})

    def manifest(self, worker: str) -> dict[str, Any]:
        try:
            return self.read_json(f"manifests/{worker}.json")
        except FileNotFoundError:
            return {"scenarios": [], "needs_cluster": False}

    # dead workers
    def mark_dead(self, worker: str, reason: str) -> None:
        write_atomic(self.path / "workers" / f"{worker}.dead", reason)

    def dead(self) -> dict[str, str]:
        if not self.exists:
            return {}
        folder = self.path / "workers"
        if not folder.is_dir():
            return {}
        return {p.stem: p.read_text() for p in folder.glob("*.dead")}

    # scenarios
    def scenario(self, nodeid: str) -> Path:
        folder = self.path / "scenarios" / scenario_key(nodeid)
        if not (folder / "nodeid").exists():
            write_atomic(folder / "nodeid", nodeid)
        return folder

    def scenarios(self) -> dict[str, Path]:
        """Node id -> folder of every scenario any process has begun."""
        if not self.exists:
            return {}
        root = self.path / "scenarios"
        if not root.is_dir():
            return {}
        return {(d / "nodeid").read_text(): d for d in sorted(root.iterdir()) if (d / "nodeid").exists()}

    def barrier(self, nodeid: str, phase: str, me: str, members: list[str], timeout: float) -> list[str]:
        """Arrive at ``phase`` of a scenario and wait for every live partner; return the arrivals.

        Every caller gets the same list: the members whose arrival file exists once every member
        has arrived or is known dead. Raise ``PartnerLost`` when a partner neither arrives nor is
        reported dead within ``timeout`` seconds.
        """
        folder = self.scenario(nodeid) / phase
        write_atomic(folder / me, str(time.time()))
        self._wait(lambda m: (folder / m).exists(), members, timeout,
                   f"did not reach the {phase} of {nodeid}")
        return [m for m in members if (folder / m).exists()]

    def write_shard(self, nodeid: str, me: str, shard: dict[str, Any]) -> None:
        write_atomic(self.scenario(nodeid) / "shards" / f"{me}.json", json.dumps(shard))

    def gather_shards(self, nodeid: str, participants: list[str], timeout: float) -> dict[str, Any]:
        """Wait for every participant's shard; raise ``PartnerLost`` naming a dead or silent one."""
        folder = self.scenario(nodeid) / "shards"
        self._wait(lambda m: (folder / f"{m}.json").exists(), participants, timeout,
                   f"sent no measurements for {nodeid}")
        lost = {m: why for m, why in self.dead().items()
                if m in participants and not (folder / f"{m}.json").exists()}
        if lost:
            raise PartnerLost("; ".join(f"worker {m} died: {why}" for m, why in sorted(lost.items())))
        return self.shards(nodeid)

    def shards(self, nodeid: str) -> dict[str, Any]:
        """Every shard written so far for a scenario, by worker."""
        folder = self.scenario(nodeid) / "shards"
        if not folder.is_dir():
            return {}
        return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}

    def _wait(self, arrived: Any, members: list[str], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            dead = self.dead()
            waiting = [m for m in members if not arrived(m) and m not in dead]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise PartnerLost(f"worker {', '.join(waiting)} {what} within {timeout:g}s "
                                  "(raise --diego-barrier-timeout if the partners are just slow)")
            time.sleep(POLL)

    # live status
    def write_status(self, worker: str, status: dict[str, Any]) -> None:
        self.write_json(f"status/{worker}.json", status)

    def statuses(self) -> dict[str, dict[str, Any]]:
        if not self.exists:
            return {}
        folder = self.path / "status"
        if not folder.is_dir():
            return {}
        result = {}
        for p in folder.glob("*.json"):
            try:
                result[p.stem] = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
        return result
