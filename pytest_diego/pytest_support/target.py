"""Which Diego a run talks to: the embedded cluster (default) or a real deployment.

A real Diego is chosen by ``--diego-bbs-url``; like cfdot, the BBS settings also come from the
environment (``BBS_URL``, ``CA_CERT_FILE``, ``CLIENT_CERT_FILE``, ``CLIENT_KEY_FILE``,
``SKIP_CERT_VERIFY``) when the options are absent, so a Diego VM set up for cfdot needs no flags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from pytest_diego.cluster.cell.container_model import parse_container_model
from pytest_diego.cluster.cluster_config import OWN_POSTGRES
from pytest_diego.cluster.state import redact_dsn
from pytest_diego.cluster.timing import INTERVALS, UNSCALED, Timing
from pytest_diego.measure.endpoint import EndpointConfigError, redact_url
from pytest_diego.pytest_support.hollow import HollowCells
from pytest_diego.pytest_support.sources import MetricsTLS, Sources
from pytest_diego.pytest_support.values import duration, positive_float, positive_int

ENV = {"diego-bbs-url": "BBS_URL", "diego-ca": "CA_CERT_FILE", "diego-cert": "CLIENT_CERT_FILE",
       "diego-key": "CLIENT_KEY_FILE", "diego-skip-cert-verify": "SKIP_CERT_VERIFY",
       "diego-locket-address": "LOCKET_API_LOCATION"}
EMBEDDED_ONLY = ("diego-cells", "diego-db", "diego-time-scale", "diego-tls", "diego-zones",
                 "diego-container-model")
EXTERNAL_ONLY = ("diego-interval", "diego-hollow-cells")


@dataclass(frozen=True)
class Embedded:
    """The embedded cluster the plugin starts (once per run) on loopback."""

    cells: int = 3
    db: str = "sqlite"
    time_scale: float = 1.0
    tls: bool = False
    zones: int = 3
    container_model: str = "0"  # seconds to create a container (the cells' --container-model SPEC)
    kind: str = "embedded"

    @property
    def timing(self) -> Timing:
        return Timing(self.time_scale)

    def describe(self) -> dict[str, Any]:
        db = redact_dsn(self.db) if self.db else self.db  # results and reports never carry a password
        return {"kind": self.kind, "cells": self.cells, "db": db, "time_scale": self.time_scale,
                "tls": self.tls, "zones": self.zones, "container_model": self.container_model}


@dataclass(frozen=True)
class External:
    """A real Diego reached through its BBS API, with optional router, metrics and fault commands."""

    bbs_url: str
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    skip_cert_verify: bool = False
    router_url: str | None = None
    apps_domain: str | None = None
    sources: Sources = field(default_factory=Sources)
    commands: dict[str, str | None] = field(default_factory=dict)
    intervals: dict[str, float] = field(default_factory=dict)  # --diego-interval, seconds
    locket_address: str | None = None  # --diego-locket-address (cfdot's LOCKET_API_LOCATION)
    hollow_cells: HollowCells | None = None  # --diego-hollow-cells: cells this run adds
    kind: str = "external"

    @property
    def timing(self) -> Timing:
        """Diego's default intervals, with the ones this deployment tunes differently."""
        return Timing.of(1.0, self.intervals)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "bbs_url": redact_url(self.bbs_url), "router_url": self.router_url,
                "apps_domain": self.apps_domain, **self.sources.describe(),
                "tls": self.bbs_url.startswith("https:"), "skip_cert_verify": self.skip_cert_verify,
                "intervals": dict(self.intervals), "locket_address": self.locket_address,
                "hollow_cells": self.hollow_cells.count if self.hollow_cells else 0}


Target = Embedded | External


def resolve_target(option: Callable[[str], Any], commands: dict[str, str | None],
                   environ: dict[str, str]) -> Target:
    """Build the target from ``option(name)`` (command line, then ini) and cfdot's variables."""

    def value(name: str) -> Any:
        given = option(name)
        if given is None and name in ENV:
            given = environ.get(ENV[name]) or None
        return given

    bbs_url = value("diego-bbs-url")
    if bbs_url is None:
        for name in EXTERNAL_ONLY:
            if option(name):
                raise pytest.UsageError(
                    f"--{name} describes a real Diego's intervals; the embedded cluster's follow "
                    "--diego-time-scale: drop it, or give --diego-bbs-url")
        return Embedded(
            cells=positive_int(option("diego-cells"), "--diego-cells", 3, "e.g. --diego-cells 10"),
            db=_db(option("diego-db")),
            time_scale=positive_float(option("diego-time-scale"), "--diego-time-scale", 1.0,
                                      "e.g. --diego-time-scale 0.1 for 3 s convergence"),
            tls=bool(option("diego-tls")),
            zones=positive_int(option("diego-zones"), "--diego-zones", 3, "e.g. --diego-zones 1"),
            container_model=_container_model(option("diego-container-model")),
        )
    for name in EMBEDDED_ONLY:
        if option(name) not in (None, False):
            raise pytest.UsageError(
                f"--{name} configures the embedded cluster, but the BBS at {bbs_url} was given "
                f"(--diego-bbs-url or BBS_URL): drop --{name}, or unset the BBS URL to use the "
                "embedded cluster")
    skip = value("diego-skip-cert-verify")
    return External(
        bbs_url=_bbs_url(bbs_url),
        **_tls_files(bbs_url, value("diego-ca"), value("diego-cert"), value("diego-key"),
                     skip not in (None, False) and str(skip).lower() in ("1", "true", "yes")),
        router_url=_http_url(option("diego-router-url"), "--diego-router-url"),
        apps_domain=option("diego-apps-domain"),
        sources=_sources(option),
        commands=dict(commands),
        intervals=_intervals(option("diego-interval") or []),
        locket_address=value("diego-locket-address"),
        hollow_cells=_hollow_cells(option, value("diego-locket-address")),
    )


def _hollow_cells(option: Callable[[str], Any], locket_address: str | None) -> HollowCells | None:
    count = positive_int(option("diego-hollow-cells"), "--diego-hollow-cells", 0,
                         "e.g. --diego-hollow-cells 100")
    if not count:
        return None
    if not locket_address:
        raise pytest.UsageError("--diego-hollow-cells needs Diego's Locket: --diego-locket-address HOST:PORT "
                                "(or LOCKET_API_LOCATION), e.g. locket.service.cf.internal:8891")
    rep_ca, rep_ca_key = option("diego-rep-ca"), option("diego-rep-ca-key")
    if bool(rep_ca) != bool(rep_ca_key):
        raise pytest.UsageError("--diego-rep-ca and --diego-rep-ca-key go together (the CA that issues the "
                                "hollow cells' rep certificates, and its key)")
    address = option("diego-hollow-address") or "127.0.0.1"
    return HollowCells(count, locket_address, address, rep_ca, rep_ca_key)


def _db(value: Any) -> str:
    if value is None:
        return "sqlite"
    text = str(value)
    if text in ("sqlite", OWN_POSTGRES) or text.startswith(("sqlite:///", "postgresql://", "postgres://")):
        return text
    raise pytest.UsageError(f"--diego-db {text!r}: use 'sqlite', 'sqlite:///path/bbs.sqlite3', "
                            f"'{OWN_POSTGRES}' (a PostgreSQL server the cluster runs) or a PostgreSQL DSN "
                            "such as postgresql://user:pass@127.0.0.1:5432/diego")


def _container_model(value: Any) -> str:
    if value is None:
        return "0"
    try:
        parse_container_model(str(value))
    except ValueError as exc:
        raise pytest.UsageError(f"--diego-container-model: {exc}") from None
    return str(value)


def _bbs_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise pytest.UsageError(f"--diego-bbs-url / BBS_URL {url!r}: must be an http(s) URL such as "
                                "https://bbs.service.cf.internal:8889")
    return url.rstrip("/")


def _http_url(url: str | None, option: str) -> str | None:
    if url is None:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise pytest.UsageError(f"{option} {redact_url(url)!r}: must be an http(s) URL such as "
                                "http://10.0.16.4:80")
    return url.rstrip("/")


def _tls_files(url: str, ca: str | None, cert: str | None, key: str | None, skip: bool) -> dict[str, Any]:
    if url.startswith("https:"):
        if ca is None and not skip:
            raise pytest.UsageError(
                f"the BBS at {url} uses TLS but no CA certificate was given: set --diego-ca FILE "
                "(or CA_CERT_FILE), or --diego-skip-cert-verify (or SKIP_CERT_VERIFY=true) to not verify it")
        if cert is None or key is None:
            raise pytest.UsageError(
                f"the BBS at {url} requires a client certificate (mutual TLS): set --diego-cert FILE and "
                "--diego-key FILE (or CLIENT_CERT_FILE and CLIENT_KEY_FILE), as for cfdot")
    elif (cert is None) != (key is None):
        raise pytest.UsageError("--diego-cert and --diego-key go together: give both or neither")
    for option, path in (("--diego-ca", ca), ("--diego-cert", cert), ("--diego-key", key)):
        if path is not None and not Path(path).is_file():
            raise pytest.UsageError(f"{option} {path}: no such file (env {ENV[option[2:]]} is read too)")
    return {"ca_file": ca, "cert_file": cert, "key_file": key, "skip_cert_verify": skip}


def _sources(option: Callable[[str], Any]) -> Sources:
    """The real Diego's route and metrics sources; a setting that cannot work is a usage error."""
    tls = MetricsTLS(option("diego-metrics-ca"), option("diego-metrics-cert"), option("diego-metrics-key"),
                     bool(option("diego-metrics-skip-verify")))
    for name, path in (("--diego-metrics-ca", tls.ca_file), ("--diego-metrics-cert", tls.cert_file),
                       ("--diego-metrics-key", tls.key_file)):
        if path is not None and not Path(path).is_file():
            raise pytest.UsageError(f"{name} {path}: no such file")
    sources = Sources(
        router_status_url=_http_url(option("diego-router-status-url"), "--diego-router-status-url"),
        metrics_urls=_metrics_urls(option("diego-metrics-url") or []),
        prometheus_url=_http_url(option("diego-prometheus-url"), "--diego-prometheus-url"),
        prometheus_matchers=option("diego-prometheus-matchers") or "", tls=tls)
    try:
        sources.check()
    except EndpointConfigError as exc:
        raise pytest.UsageError(f"real Diego's routes or metrics: {exc}") from None
    return sources


def _metrics_urls(entries: list[str]) -> dict[str, str]:
    urls = {}
    for entry in entries:
        name, sep, url = entry.partition("=")
        if not sep or not name.strip():
            raise pytest.UsageError(f"--diego-metrics-url {entry!r}: write NAME=URL, e.g. "
                                    "bbs=http://10.0.16.5:9090/metrics")
        urls[name.strip()] = _http_url(url.strip(), f"--diego-metrics-url {name.strip()}") or ""
    return urls


def _intervals(entries: list[str]) -> dict[str, float]:
    """``NAME=DURATION`` entries (``convergence_interval=20s``) as seconds by name."""
    known = sorted(INTERVALS) + sorted(UNSCALED)
    intervals = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        name = name.strip()
        if not sep or name not in known:
            raise pytest.UsageError(f"--diego-interval {entry!r}: write NAME=DURATION with NAME one of "
                                    f"{', '.join(known)} (e.g. convergence_interval=30s)")
        intervals[name] = duration(value.strip(), f"--diego-interval {name}", 0.0)
    return intervals
