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

from pytest_diego.cluster.state import redact_dsn
from pytest_diego.pytest_support.values import positive_float, positive_int

ENV = {"diego-bbs-url": "BBS_URL", "diego-ca": "CA_CERT_FILE", "diego-cert": "CLIENT_CERT_FILE",
       "diego-key": "CLIENT_KEY_FILE", "diego-skip-cert-verify": "SKIP_CERT_VERIFY"}
EMBEDDED_ONLY = ("diego-cells", "diego-db", "diego-time-scale", "diego-tls")


@dataclass(frozen=True)
class Embedded:
    """The embedded cluster the plugin starts (once per run) on loopback."""

    cells: int = 3
    db: str = "sqlite"
    time_scale: float = 1.0
    tls: bool = False
    kind: str = "embedded"

    def describe(self) -> dict[str, Any]:
        db = redact_dsn(self.db) if self.db else self.db  # results and reports never carry a password
        return {"kind": self.kind, "cells": self.cells, "db": db, "time_scale": self.time_scale,
                "tls": self.tls}


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
    metrics_urls: dict[str, str] = field(default_factory=dict)
    commands: dict[str, str | None] = field(default_factory=dict)
    kind: str = "external"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "bbs_url": self.bbs_url, "router_url": self.router_url,
                "apps_domain": self.apps_domain, "metrics_urls": dict(self.metrics_urls),
                "tls": self.bbs_url.startswith("https:"), "skip_cert_verify": self.skip_cert_verify}


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
        return Embedded(
            cells=positive_int(option("diego-cells"), "--diego-cells", 3, "e.g. --diego-cells 10"),
            db=_db(option("diego-db")),
            time_scale=positive_float(option("diego-time-scale"), "--diego-time-scale", 1.0,
                                      "e.g. --diego-time-scale 0.1 for 3 s convergence"),
            tls=bool(option("diego-tls")),
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
        metrics_urls=_metrics_urls(option("diego-metrics-url") or []),
        commands=dict(commands),
    )


def _db(value: Any) -> str:
    if value is None:
        return "sqlite"
    text = str(value)
    if text == "sqlite" or text.startswith(("sqlite:///", "postgresql://", "postgres://")):
        return text
    raise pytest.UsageError(f"--diego-db {text!r}: use 'sqlite', 'sqlite:///path/bbs.sqlite3' or a "
                            "PostgreSQL DSN such as postgresql://user:pass@127.0.0.1:5432/diego")


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
        raise pytest.UsageError(f"{option} {url!r}: must be an http(s) URL such as http://10.0.16.4:80")
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


def _metrics_urls(entries: list[str]) -> dict[str, str]:
    urls = {}
    for entry in entries:
        name, sep, url = entry.partition("=")
        if not sep or not name.strip():
            raise pytest.UsageError(f"--diego-metrics-url {entry!r}: write NAME=URL, e.g. "
                                    "bbs=http://10.0.16.5:9090/metrics")
        urls[name.strip()] = _http_url(url.strip(), f"--diego-metrics-url {name.strip()}") or ""
    return urls
