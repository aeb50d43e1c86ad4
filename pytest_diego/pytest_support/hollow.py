"""Hollow cells for a run against a real Diego: ``--diego-hollow-cells N`` adds N cells that join
it from this machine (``python -m pytest_diego cells``) for the run, so a scenario tests the real
BBS, Locket and database at a cell count the deployment does not have. The run's owner starts
them before any scenario and makes them leave (evacuated, presences released) at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pytest_diego.bbs import BBSClient

JOIN_TIMEOUT = 300.0
LEAVE_TIMEOUT = 120.0


@dataclass(frozen=True)
class HollowCells:
    """What ``--diego-hollow-cells`` and its companion options asked for."""

    count: int
    locket_address: str
    address: str = "127.0.0.1"  # where the cells listen: reachable from the Diego
    rep_ca: str | None = None
    rep_ca_key: str | None = None


class HollowCellsOwner:
    """The cells command for the run, started once, stopped at the end."""

    def __init__(self, cells: HollowCells, bbs_url: str, ca_file: str | None, cert_file: str | None,
                 key_file: str | None, log_dir: Path) -> None:
        self.cells = cells
        self.bbs = (bbs_url, ca_file, cert_file, key_file)
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        bbs_url, ca, cert, key = self.bbs
        c = self.cells
        argv = [sys.executable, "-m", "pytest_diego", "cells", "--count", str(c.count), "--bbs-url", bbs_url,
                "--locket-address", c.locket_address, "--address", c.address,
                "--id-prefix", "pytest-diego-hollow", "--log-dir", str(self.log_dir), "--exit-with-parent"]
        for flag, value in (("--ca", ca), ("--cert", cert), ("--key", key), ("--rep-ca", c.rep_ca),
                            ("--rep-ca-key", c.rep_ca_key)):
            if value:
                argv += [flag, value]
        return argv

    def start(self) -> None:
        """Start the cells and wait until the BBS lists every one of them."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_dir / "cells.out", "ab")  # noqa: SIM115 - the child writes to it
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=out, start_new_session=True)
        out.close()
        bbs_url, ca, cert, key = self.bbs
        with BBSClient(bbs_url, ca_file=ca, cert_file=cert, key_file=key, timeout=30) as bbs:
            deadline = time.monotonic() + JOIN_TIMEOUT
            while sum(c.cell_id.startswith("pytest-diego-hollow-") for c in bbs.cells()) < self.cells.count:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the {self.cells.count} hollow cells did not join {bbs_url}: see "
                                       f"{self.log_dir / 'cells.out'}")
                time.sleep(0.5)

    def stop(self) -> None:
        """Make every cell leave (SIGINT: evacuate, release presences); SIGKILL if it hangs."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(LEAVE_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
