"""``<state_dir>/cluster.json``: every address, pid and file of a running embedded cluster.

Written by the launcher (and rewritten when a component is restarted, so attached processes see
new pids), read by ``cluster down/status``, by ``EmbeddedCluster.attach`` in xdist workers, and
by anyone using the cluster outside pytest. Schema in docs/internals.md; ``create_time`` beside
each pid lets readers tell our process from an unrelated one that reused the pid.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pytest_diego.atomic_file import write_atomic

SCHEMA = 1
FILENAME = "cluster.json"
DSN_FILENAME = "bbs-db.dsn"
"""Beside cluster.json, mode 0600: the store's DSN when it carries a password. cluster.json
(read by people, attached to bug reports) and command lines (``ps``) only show it redacted."""


def redact_dsn(dsn: str) -> str:
    """The DSN with its password replaced by ``***``."""
    parts = urlsplit(dsn)
    if parts.password:
        return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))
    return dsn


def has_password(dsn: str) -> bool:
    return bool(urlsplit(dsn).password)


def dsn_file(state_dir: Path | str) -> Path:
    return Path(state_dir) / DSN_FILENAME


def write_dsn(state_dir: Path | str, dsn: str) -> Path:
    """Write the secret DSN for the BBS (``--db-file``) and for restarts, readable by us only."""
    path = dsn_file(state_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(dsn + "\n")
    return path


class ClusterStateError(RuntimeError):
    """cluster.json is missing, unreadable or of another schema."""


@dataclass(frozen=True)
class TLSFiles:
    ca_file: str
    cert_file: str  # client certificate for talking to the BBS
    key_file: str
    server_cert_file: str = ""
    server_key_file: str = ""
    locket_cert_file: str = ""  # Locket's server certificate (locket.service.cf.internal)
    locket_key_file: str = ""
    ca_key_file: str = ""  # the CA's key: each cell issues its own rep certificate at start
    rep_key_file: str = ""  # the key every cell's rep certificate is issued for


@dataclass
class ComponentRecord:
    pid: int
    create_time: float
    url: str
    metrics_url: str
    log: str
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the router's admin_url

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "extra"}
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ComponentRecord:
        known = {"pid", "create_time", "url", "metrics_url", "log"}
        return cls(int(data["pid"]), float(data.get("create_time", 0.0)), data.get("url", ""),
                   data.get("metrics_url", ""), data.get("log", ""),
                   {k: v for k, v in data.items() if k not in known})


@dataclass
class CellRecord:
    cell_id: str
    zone: str
    address: str
    pid: int
    create_time: float
    rep_url: str
    metrics_url: str
    log: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellRecord:
        return cls(data["cell_id"], data["zone"], data["address"], int(data["pid"]),
                   float(data.get("create_time", 0.0)), data.get("rep_url", ""), data.get("metrics_url", ""),
                   data.get("log", ""))


@dataclass
class ClusterState:
    state_dir: str
    bbs_url: str
    bbs_health_url: str
    router_url: str
    router_admin_url: str
    auctioneer_url: str
    time_scale: float
    db: str
    tls: TLSFiles | None
    launcher: dict[str, Any]  # {"pid", "create_time", "detached"}: the process that owns the cluster
    components: dict[str, ComponentRecord]
    cells: list[CellRecord]
    config: dict[str, Any] = field(default_factory=dict)  # what restarts need (cell capacity, model)
    locket_address: str = ""  # Diego's locket_address, host:port

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "state_dir": self.state_dir,
            "bbs_url": self.bbs_url,
            "locket_address": self.locket_address,
            "bbs_health_url": self.bbs_health_url,
            "router_url": self.router_url,
            "router_admin_url": self.router_admin_url,
            "auctioneer_url": self.auctioneer_url,
            "time_scale": self.time_scale,
            "db": redact_dsn(self.db),
            "tls": asdict(self.tls) if self.tls else None,
            "launcher": self.launcher,
            "components": {name: c.to_json() for name, c in self.components.items()},
            "cells": [asdict(c) for c in self.cells],
            "config": self.config,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterState:
        if data.get("schema") != SCHEMA:
            raise ClusterStateError(f"cluster.json has schema {data.get('schema')!r}; this pytest-diego "
                                    f"reads schema {SCHEMA}. Start the cluster with this version.")
        tls = data.get("tls")
        return cls(
            state_dir=data["state_dir"], bbs_url=data["bbs_url"],
            bbs_health_url=data.get("bbs_health_url", ""),
            router_url=data["router_url"], router_admin_url=data["router_admin_url"],
            auctioneer_url=data.get("auctioneer_url", ""), time_scale=float(data["time_scale"]),
            db=data.get("db", ""), tls=TLSFiles(**tls) if tls else None, launcher=data.get("launcher", {}),
            components={n: ComponentRecord.from_json(c) for n, c in data["components"].items()},
            cells=[CellRecord.from_json(c) for c in data["cells"]],
            config=data.get("config", {}), locket_address=data.get("locket_address", ""),
        )


@contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """Serialize read-modify-write of cluster.json between processes (xdist workers)."""
    with open(state_dir / ".cluster.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write(state: ClusterState) -> Path:
    """Write cluster.json atomically (the DSN redacted; a password goes to ``DSN_FILENAME``)."""
    path = Path(state.state_dir) / FILENAME
    if has_password(state.db):
        write_dsn(state.state_dir, state.db)
    write_atomic(path, json.dumps(state.to_json(), indent=2) + "\n", mode=0o644)
    return path


def read(state_dir: Path | str) -> ClusterState:
    path = Path(state_dir) / FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClusterStateError(
            f"no {FILENAME} in {state_dir}: is a cluster running there? Start one with "
            f"`python -m pytest_diego cluster up --state-dir {state_dir}`"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ClusterStateError(f"cannot read {path}: {exc}") from exc
    try:
        st = ClusterState.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ClusterStateError(f"{path} is not a pytest-diego cluster state file: {exc!r}") from exc
    if has_password(st.db):  # redacted: the real DSN is in the private file beside it
        try:
            st.db = dsn_file(state_dir).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ClusterStateError(f"cluster.json's store DSN has its password in {dsn_file(state_dir)}, "
                                    f"which cannot be read: {exc}") from exc
    return st
