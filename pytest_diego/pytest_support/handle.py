"""The ``diego`` fixture object, and getting the run's Diego: start, attach or reach it.

- Embedded target, no xdist: the process starts the cluster the first time a test needs it.
- Embedded target under xdist: the controller starts it once, when a worker's collection says a
  test needs it, in ``<run dir>/cluster``; workers attach to that state directory.
- Real Diego: nothing to start; the handle builds clients from the target's settings.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_diego.nemesis import CommandNemesis, EmbeddedNemesis, FaultLog, cell_id_of
from pytest_diego.pytest_support.target import Embedded, External, Target
from pytest_diego.workload.builders import APP_DOMAIN


class ClusterAccess:
    """Owns (or attaches to) the embedded cluster of one run; stops what it started.

    The cluster's state directory is ``<results dir>/cluster``: its lager logs and cluster.json
    stay there after the run for inspection, and are replaced by the next run's.
    """

    def __init__(self, target: Target, state_dir: Path, owner: bool) -> None:
        self.target = target
        self.state_dir = state_dir.resolve()
        self.owner = owner
        self.cluster: Any = None
        self.error: str | None = None

    def start(self) -> None:
        """Start the embedded cluster (owner only); remember a failure to report it per test."""
        if self.cluster is not None or self.error is not None or not isinstance(self.target, Embedded):
            return
        from pytest_diego.cluster import ClusterConfig, EmbeddedCluster

        t = self.target
        db = None if t.db == "sqlite" else t.db
        try:
            _clear_previous_run(self.state_dir)
            self.cluster = EmbeddedCluster.start(ClusterConfig(
                cells=t.cells, db=db, tls=t.tls, time_scale=t.time_scale, state_dir=self.state_dir))
        except Exception as exc:
            logs = self.state_dir / "logs"
            self.error = f"the embedded Diego cluster did not start: {exc} (logs in {logs})"
            return
        atexit.register(self.stop)

    def get(self) -> Any:
        """The embedded cluster object, started or attached on first use."""
        if self.cluster is None and self.error is None:
            if self.owner:
                self.start()
            else:
                from pytest_diego.cluster import EmbeddedCluster

                try:
                    self.cluster = EmbeddedCluster.attach(self.state_dir)
                except Exception as exc:
                    self.error = f"cannot attach to the embedded Diego cluster in {self.state_dir}: {exc}"
        if self.error is not None:
            pytest.fail(self.error, pytrace=False)
        return self.cluster

    def stop(self) -> None:
        cluster, self.cluster = self.cluster, None
        if cluster is not None and self.owner:
            with contextlib.suppress(Exception):
                cluster.stop()

    def describe(self) -> dict[str, Any]:
        """The cluster part of results.json's environment."""
        cells = []
        if self.cluster is not None:
            cells = [cell_id_of(c) for c in self.cluster.cells]
        return {"cells": cells}


class DiegoHandle:
    """What the ``diego`` fixture gives: the target's addresses, clients, cells and faults."""

    def __init__(self, target: Target, access: ClusterAccess) -> None:
        self.target = target
        self._access = access

    @property
    def embedded(self) -> bool:
        return isinstance(self.target, Embedded)

    @property
    def cluster(self) -> Any:
        """The embedded cluster (``EmbeddedCluster``); only for the embedded target."""
        if not self.embedded:
            pytest.skip("this test needs the embedded cluster; it does not run against --diego-bbs-url")
        return self._access.get()

    @property
    def bbs_url(self) -> str:
        return self.cluster.bbs_url if self.embedded else self.target.bbs_url  # type: ignore[union-attr]

    @property
    def router_url(self) -> str:
        if self.embedded:
            return self.cluster.router_url
        if self.target.router_url is None:  # type: ignore[union-attr]
            pytest.skip("this test checks routes: set --diego-router-url (and --diego-apps-domain)")
        return self.target.router_url  # type: ignore[union-attr]

    @property
    def apps_domain(self) -> str:
        if self.embedded:
            return APP_DOMAIN
        if self.target.apps_domain is None:  # type: ignore[union-attr]
            pytest.skip("this test creates routes: set --diego-apps-domain (e.g. apps.example.com)")
        return self.target.apps_domain  # type: ignore[union-attr]

    @property
    def metrics_urls(self) -> dict[str, str]:
        if self.embedded:
            return dict(self.cluster.metrics_urls)
        if not self.target.metrics_urls:  # type: ignore[union-attr]
            pytest.skip("this test samples Diego's metrics: set --diego-metrics-url NAME=URL")
        return dict(self.target.metrics_urls)  # type: ignore[union-attr]

    @property
    def cells(self) -> list[str]:
        """Ids of the cells: the embedded cluster's, or the present cells a real BBS reports."""
        if self.embedded:
            return [cell_id_of(c) for c in self.cluster.cells]
        return [p.cell_id for p in self.client().cells()]

    def client(self, observer: Any = None, timeout: float = 10.0, retries: int = 0) -> Any:
        """A ``BBSClient`` for the target; ``observer`` records every request."""
        if self.embedded:
            return self.cluster.client(observer=observer, timeout=timeout, retries=retries)
        from pytest_diego.bbs import BBSClient

        t = self.target
        assert isinstance(t, External)
        return BBSClient(t.bbs_url, ca_file=t.ca_file, cert_file=t.cert_file, key_file=t.key_file,
                         timeout=timeout, observer=observer, retries=retries,
                         skip_cert_verify=t.skip_cert_verify)

    def nemesis(self, log: FaultLog | None = None, leader: bool = True, seed: str = "") -> Any:
        """Faults for this target: signals to the embedded cluster, or the configured commands."""
        if self.embedded:
            return EmbeddedNemesis(self.cluster, log, leader, seed)
        t = self.target
        assert isinstance(t, External)
        return CommandNemesis(t.commands, lambda: self.cells, log, leader, seed)

    def __repr__(self) -> str:
        where = "embedded cluster" if self.embedded else self.target.bbs_url  # type: ignore[union-attr]
        return f"<Diego {where}>"



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
