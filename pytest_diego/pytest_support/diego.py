"""The ``diego`` fixture: the Diego under test, embedded or real, behind one interface.

A scenario asks the same questions of either target — the BBS URL and a client, the router,
the apps domain, the cells, Diego's timing, faults — and never branches on which one it has.
``EmbeddedDiego`` answers from the run's embedded cluster; ``ExternalDiego`` from the options
that describe a real deployment. What a real Diego was not given (a router URL, an apps domain)
skips the test that needs it, naming the option.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import pytest

from pytest_diego.bbs import BBSClient
from pytest_diego.bbs.client import Observer
from pytest_diego.cluster import EmbeddedCluster
from pytest_diego.cluster.timing import Timing
from pytest_diego.measure import MetricsEndpoint, RouteTable
from pytest_diego.measure.metric_samples import MetricsSource
from pytest_diego.nemesis import CommandNemesis, FaultLog, LinkNemesis, Nemesis
from pytest_diego.pytest_support.embedded import ClusterLink
from pytest_diego.pytest_support.target import Embedded, External
from pytest_diego.workload.builders import APP_DOMAIN
from pytest_diego.workload.commands import Work

# where a real Diego's client settings come from, for the client's hints ("check --diego-cert ...")
SETTING_LABELS = {"url": "--diego-bbs-url (BBS_URL)", "ca_file": "--diego-ca (CA_CERT_FILE)",
                  "cert_file": "--diego-cert (CLIENT_CERT_FILE)", "key_file": "--diego-key (CLIENT_KEY_FILE)"}


class Diego(ABC):
    """What the ``diego`` fixture gives: the target's addresses, clients, cells, timing, faults,
    where its routes and metrics are published,
    and ``work``: the rootfs and commands the scenarios' Tasks and LRPs run with."""

    kind: str

    def __init__(self, work: Work) -> None:
        self.work = work

    @property
    @abstractmethod
    def timing(self) -> Timing:
        """Diego's intervals as this target runs them (bounds are derived from these)."""

    @property
    @abstractmethod
    def bbs_url(self) -> str: ...

    @property
    @abstractmethod
    def router_url(self) -> str:
        """The router that app routes are probed through (skips when a real Diego has none)."""

    @property
    @abstractmethod
    def apps_domain(self) -> str:
        """The domain app routes are created under (skips when a real Diego has none)."""

    @abstractmethod
    def metrics_sources(self, timeout: float = 5.0) -> list[MetricsSource]:
        """Where Diego's metrics are published (new objects: the caller closes them); empty
        when a real Diego was given none."""

    @abstractmethod
    def route_table(self, timeout: float = 5.0) -> RouteTable | None:
        """The router's table (gorouter's status listener; the caller closes it), or None."""

    @property
    @abstractmethod
    def cells(self) -> list[str]:
        """Ids of the cells Diego knows now."""

    @abstractmethod
    def client(self, observer: Observer | None = None, timeout: float = 10.0, retries: int = 0) -> BBSClient:
        """A ``BBSClient`` for the target; ``observer`` records every request."""

    @abstractmethod
    def nemesis(self, log: FaultLog | None = None, leader: bool = True, seed: str = "") -> Nemesis:
        """Faults for this target: real signals on the embedded cluster, configured commands on a
        real Diego."""

    @property
    def cluster(self) -> EmbeddedCluster:
        """The embedded cluster itself, for tests that need it (skips on a real Diego)."""
        pytest.skip("this test needs the embedded cluster; it does not run against --diego-bbs-url")

    def __repr__(self) -> str:
        return f"<Diego {self.kind} {self.bbs_url}>"


class EmbeddedDiego(Diego):
    kind = "embedded"

    def __init__(self, target: Embedded, link: ClusterLink, work: Work) -> None:
        super().__init__(work)
        self.target = target
        self._link = link

    @property
    def timing(self) -> Timing:
        return self.target.timing

    @property
    def cluster(self) -> EmbeddedCluster:
        return self._link.cluster()

    @property
    def bbs_url(self) -> str:
        return self.cluster.bbs_url

    @property
    def router_url(self) -> str:
        return self.cluster.router_url

    @property
    def apps_domain(self) -> str:
        return APP_DOMAIN

    def metrics_sources(self, timeout: float = 5.0) -> list[MetricsSource]:
        return [MetricsEndpoint(url, timeout=timeout) for url in self.cluster.metrics_urls.values()]

    def route_table(self, timeout: float = 5.0) -> RouteTable | None:
        return RouteTable(self.cluster.router_status_url, timeout=timeout)

    @property
    def cells(self) -> list[str]:
        return [c.cell_id for c in self.cluster.cells]

    def client(self, observer: Observer | None = None, timeout: float = 10.0, retries: int = 0) -> BBSClient:
        return self.cluster.client(observer=observer, timeout=timeout, retries=retries)

    def nemesis(self, log: FaultLog | None = None, leader: bool = True, seed: str = "") -> Nemesis:
        return LinkNemesis(self._link.live_cells, self._link.deliver, log, leader, seed, store=self.target.db)

    def __repr__(self) -> str:
        return "<Diego embedded cluster>"


class ExternalDiego(Diego):
    kind = "external"

    def __init__(self, target: External, work: Work) -> None:
        super().__init__(work)
        self.target = target

    @property
    def timing(self) -> Timing:
        return self.target.timing

    @property
    def bbs_url(self) -> str:
        return self.target.bbs_url

    @property
    def router_url(self) -> str:
        if self.target.router_url is None:
            pytest.skip("this test checks routes: set --diego-router-url (and --diego-apps-domain)")
        return self.target.router_url

    @property
    def apps_domain(self) -> str:
        if self.target.apps_domain is None:
            pytest.skip("this test creates routes: set --diego-apps-domain (e.g. apps.example.com)")
        return self.target.apps_domain

    def metrics_sources(self, timeout: float = 5.0) -> list[MetricsSource]:
        return self.target.sources.metrics(timeout)

    def route_table(self, timeout: float = 5.0) -> RouteTable | None:
        return self.target.sources.route_table(timeout)

    @property
    def cells(self) -> list[str]:
        with self.client() as client:
            return [p.cell_id for p in client.cells()]

    def client(self, observer: Observer | None = None, timeout: float = 10.0, retries: int = 0) -> BBSClient:
        t = self.target
        return BBSClient(t.bbs_url, ca_file=t.ca_file, cert_file=t.cert_file, key_file=t.key_file,
                         timeout=timeout, observer=observer, retries=retries,
                         skip_cert_verify=t.skip_cert_verify, setting_labels=SETTING_LABELS)

    def nemesis(self, log: FaultLog | None = None, leader: bool = True, seed: str = "") -> Nemesis:
        return CommandNemesis(self.target.commands, lambda: self.cells, log, leader, seed)
