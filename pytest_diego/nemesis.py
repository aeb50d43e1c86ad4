"""What goes wrong: faults delivered to the embedded cluster (real signals) or a real Diego.

``LinkNemesis`` has the embedded cluster's owner deliver them (SIGKILL a cell's rep, SIGSTOP the
BBS, SIGKILL the PostgreSQL server under the BBS, ...), so the process that started a component
is the one that stops and restarts it. ``CommandNemesis`` runs the shell commands an operator
configured for a real deployment, e.g. ``diego_kill_cell_command = "bosh -d cf ssh
diego-cell/{cell_id} -c 'sudo pkill -9 -f /var/vcap/packages/rep/bin/rep'"`` (a ready set:
docs/real-diego-faults.md); a fault without a command raises ``FaultNotConfigured`` naming the ini
option to set.

Every fault is logged as a ``FaultEvent`` (when, kind, target, whether it worked), so reports can
mark the moments faults happened. Under xdist only the leader (shard 0) delivers faults; the other
shards get the same answers (cells are chosen with the same seed) without acting.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from pytest_diego.cluster.cluster_config import OWN_POSTGRES

DATABASE_FAULTS = ("kill_database", "restart_database")


class FaultNotConfigured(Exception):
    """A fault was asked for that this target has no way to deliver."""


class FaultFailed(Exception):
    """A fault could not be delivered: the command failed or the component refused."""


@dataclass(frozen=True)
class FaultEvent:
    t: float
    kind: str
    target: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Nemesis(Protocol):
    """What the ``nemesis`` fixture gives; every fault is logged in ``log``."""

    log: FaultLog

    def kill_cell(self, cell_id: str) -> None: ...
    def kill_cells(self, fraction: float | None = None, count: int | None = None) -> list[str]: ...
    def restart_cell(self, cell_id: str) -> None: ...
    def freeze_cell(self, cell_id: str) -> None: ...
    def thaw_cell(self, cell_id: str) -> None: ...
    def kill_bbs(self) -> None: ...
    def restart_bbs(self) -> None: ...
    def kill_database(self) -> None: ...
    def restart_database(self) -> None: ...
    def wipe_store(self) -> None: ...
    def pause(self, target: str) -> None: ...
    def resume(self, target: str) -> None: ...


@dataclass
class FaultLog:
    """The fault events of one scenario, in order."""

    events: list[FaultEvent] = field(default_factory=list)

    def add(self, event: FaultEvent) -> None:
        self.events.append(event)


class _Nemesis(Nemesis):
    """Shared behaviour: pick cells reproducibly, deliver only when leading, log every fault."""

    def __init__(self, cells: Callable[[], Sequence[str]], log: FaultLog | None = None,
                 leader: bool = True, seed: str = "") -> None:
        self._cells = cells
        self.log = log if log is not None else FaultLog()
        self.leader = leader
        self._random = random.Random(seed)

    def kill_cells(self, fraction: float | None = None, count: int | None = None) -> list[str]:
        """Kill ``count`` live cells, or ``fraction`` of the live cells (at least one); return
        their ids."""
        cells = sorted(self._cells())
        if (fraction is None) == (count is None):
            raise ValueError("kill_cells takes exactly one of fraction= or count=")
        if fraction is not None:
            if not 0 < fraction <= 1:
                raise ValueError(f"kill_cells(fraction={fraction!r}): must be in (0, 1]")
            count = max(1, round(len(cells) * fraction))
        assert count is not None
        if not 0 < count <= len(cells):
            raise ValueError(f"kill_cells(count={count}): the cluster has {len(cells)} cells")
        chosen = sorted(self._random.sample(cells, count))
        for cell_id in chosen:
            self.kill_cell(cell_id)
        return chosen

    def kill_cell(self, cell_id: str) -> None:
        self._deliver("kill_cell", cell_id)

    def restart_cell(self, cell_id: str) -> None:
        self._deliver("restart_cell", cell_id)

    def freeze_cell(self, cell_id: str) -> None:
        """The cell's VM stops answering (drops packets) without going away."""
        self._deliver("freeze_cell", cell_id)

    def thaw_cell(self, cell_id: str) -> None:
        self._deliver("thaw_cell", cell_id)

    def kill_bbs(self) -> None:
        self._deliver("kill_bbs", "bbs")

    def restart_bbs(self) -> None:
        self._deliver("restart_bbs", "bbs")

    def kill_database(self) -> None:
        """The SQL server under the BBS dies (its VM), the BBS stays up."""
        self._deliver("kill_database", "database")

    def restart_database(self) -> None:
        self._deliver("restart_database", "database")

    def wipe_store(self) -> None:
        self._deliver("wipe_store", "bbs")

    def pause(self, target: str) -> None:
        self._deliver("pause", target)

    def resume(self, target: str) -> None:
        self._deliver("resume", target)

    def _deliver(self, kind: str, target: str) -> None:
        self._check(kind)
        if not self.leader:
            return
        t = time.time()
        try:
            detail = self._act(kind, target)
        except Exception as exc:
            self.log.add(FaultEvent(t, kind, target, False, str(exc)))
            raise
        self.log.add(FaultEvent(t, kind, target, True, detail))

    def _check(self, kind: str) -> None:
        """Raise ``FaultNotConfigured`` if ``kind`` cannot be delivered."""

    def _act(self, kind: str, target: str) -> str:
        raise NotImplementedError


class LinkNemesis(_Nemesis):
    """Faults on the embedded cluster: delivered by the cluster's owner with real signals
    (``deliver(kind, target)``), choosing among the cells alive right now (``live_cells``), so a
    second ``kill_cells`` never "kills" a dead cell again. ``store`` is the cluster's
    ``--diego-db``: the database faults need the PostgreSQL server the cluster runs itself (None:
    the deliverer refuses them if it has none)."""

    def __init__(self, live_cells: Callable[[], Sequence[str]], deliver: Callable[[str, str], str],
                 log: FaultLog | None = None, leader: bool = True, seed: str = "",
                 store: str | None = None) -> None:
        super().__init__(live_cells, log, leader, seed)
        self._deliver_with = deliver
        self.store = store

    def _check(self, kind: str) -> None:
        if kind in DATABASE_FAULTS and self.store not in (None, OWN_POSTGRES):
            what = ("SQLite, a file inside the BBS" if self.store.startswith("sqlite")
                    else "a PostgreSQL server this run does not run")
            raise FaultNotConfigured(
                f"cannot {kind.replace('_', ' ')}: the embedded cluster's BBS store is {what}; set "
                f"--diego-db {OWN_POSTGRES} (diego_db = {OWN_POSTGRES}) for a PostgreSQL server of the "
                "cluster's own")

    def _act(self, kind: str, target: str) -> str:
        return self._deliver_with(kind, target)


class CommandNemesis(_Nemesis):
    """Faults on a real Diego by running the configured shell commands (``{cell_id}``/``{target}``)."""

    def __init__(self, commands: dict[str, str | None], cells: Callable[[], Sequence[str]],
                 log: FaultLog | None = None, leader: bool = True, seed: str = "",
                 timeout: float = 300.0) -> None:
        super().__init__(cells, log, leader, seed)
        self.commands = commands
        self.timeout = timeout

    def _check(self, kind: str) -> None:
        if not self.commands.get(kind):
            raise FaultNotConfigured(
                f"no command to {kind.replace('_', ' ')} on this Diego: set diego_{kind}_command in "
                "[tool.pytest.ini_options]")

    def _act(self, kind: str, target: str) -> str:
        command = str(self.commands[kind]).format(cell_id=target, target=target)
        try:
            done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=self.timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise FaultFailed(
                f"diego_{kind}_command did not finish within {self.timeout:g}s: {command}") from None
        if done.returncode != 0:
            raise FaultFailed(f"diego_{kind}_command exited {done.returncode}: {command}\n"
                              f"{(done.stderr or done.stdout).strip()[-2000:]}")
        return done.stdout.strip()[-500:]
