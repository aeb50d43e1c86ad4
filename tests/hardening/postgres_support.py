"""A throwaway PostgreSQL server on 127.0.0.1 for the secret-leak tests (initdb + pg_ctl, trust
authentication: it accepts the DSN's password, so a password can be carried end to end)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def pg_binary(name: str) -> str | None:
    for directory in PG_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    return shutil.which(name)


def _as_postgres(*cmd: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """Yields ``postgresql://postgres@127.0.0.1:PORT`` (None when PostgreSQL is not installed)."""
    initdb, pg_ctl = pg_binary("initdb"), pg_binary("pg_ctl")
    if not initdb or not pg_ctl:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="hardening-pg-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    data, sockets = root / "data", root / "sockets"
    subprocess.run(_as_postgres(initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"),
                   check=True, capture_output=True, timeout=120)
    subprocess.run(_as_postgres("mkdir", str(sockets)), check=True, timeout=30)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=30"
    log = str(root / "pg.log")
    subprocess.run(_as_postgres(pg_ctl, "-D", str(data), "-o", options, "-l", log, "-w", "start"),
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"),
                       capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)
