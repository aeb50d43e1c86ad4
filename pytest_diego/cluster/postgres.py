"""The embedded cluster's own PostgreSQL server: the SQL database under the BBS, as its own process.

Diego's BBS keeps its records in a SQL server on another VM (cf-deployment's ``database``
instance group). ``--db postgresql`` gives the embedded cluster one, so that the database can
fail apart from the BBS: ``initdb`` once, then ``postgres`` on a free port of 127.0.0.1 (TCP only,
no Unix socket), with password authentication for the BBS's role ``diego`` in its database
``diego``. SIGKILL of the postmaster is the database VM dying (``kill_database``); starting it
again on the same port and data directory brings the database back (``restart_database``).

The postmaster is started through this module (``python -m pytest_diego.cluster.postgres``),
which becomes the ``postgres`` OS user when run as root (PostgreSQL refuses root), asks Linux for
SIGINT (PostgreSQL's fast shutdown) when its parent dies, and execs ``postgres``: the recorded pid
is the postmaster's, and an interrupted run leaves no server behind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from pytest_diego.cluster.ports import free_port
from pytest_diego.cluster.process import (
    Child,
    ComponentStartError,
    ProcessInfo,
    mark_owner,
    owner_alive,
    tail,
)

DATABASE = "diego"
ROLE = "diego"
SERVER_USER = "postgres"
"""The OS user the server runs as when we are root (Debian's PostgreSQL packages create it)."""
CLUSTER_NAME = "pytest_diego"
"""PostgreSQL's ``cluster_name``: on the postmaster's command line it is what tells our server
from another (``ProcessInfo.is_ours``), and every backend's process title carries it."""
BINARY_DIRS = tuple(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
STOP_GRACE = 10.0
SCRATCH_PREFIX = "pytest-diego-postgres-"
BACKEND_EXIT_TIMEOUT = 10.0


class PostgresError(ComponentStartError):
    """The PostgreSQL server cannot be set up or started; the message says what to do."""


def find_binary(name: str) -> str:
    """``initdb``/``postgres`` from PATH (``/usr/local/bin`` links them here), else the newest
    ``/usr/lib/postgresql/<version>/bin``."""
    found = shutil.which(name)
    if found:
        return found
    for directory in BINARY_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    raise PostgresError(
        f"PostgreSQL's {name} is not on PATH nor in /usr/lib/postgresql/*/bin: install PostgreSQL "
        "(e.g. apt-get install postgresql) to run the cluster's own database, or use the SQLite store")


def server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: ours, unless we are root (then ``postgres``)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresError(
            "PostgreSQL refuses to run as root and there is no 'postgres' OS user to run it as: "
            "create one (useradd --system postgres) or run as another user") from None


@dataclass(frozen=True)
class PostgresServer:
    """Where one server keeps its data and listens; how the BBS reaches it."""

    data_dir: Path
    port: int
    password: str
    os_user: str = ""
    """Set when the server runs as another OS user than ours (we are root)."""
    scratch_dir: str = ""
    """A directory made for the data outside the state dir (see ``create``), removed with it."""

    # -- making one ---------------------------------------------------------------------------
    @classmethod
    def create(cls, state_dir: Path, port: int | None = None) -> PostgresServer:
        """A new, initialized data directory and a free port.

        The data goes to ``<state_dir>/postgres``. As root the server runs as the ``postgres``
        user, which cannot reach into a private state dir (pytest's tmp_path, ``mkdtemp``), so the
        data goes to a new directory of the system's temp dir that user owns, and
        ``<state_dir>/postgres`` links to it; ``remove_scratch`` deletes it once the server stopped,
        and a later ``create`` deletes those whose owner was killed before it could
        (``sweep_scratch``).
        """
        user = server_user()
        password = secrets.token_urlsafe(18)
        link = Path(state_dir) / "postgres"
        if user is None:
            server = cls(link, port or free_port(), password)
        else:
            sweep_scratch()
            scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
            mark_owner(scratch)
            os.chown(scratch, user.pw_uid, user.pw_gid)
            server = cls(scratch / "data", port or free_port(), password, user.pw_name, str(scratch))
            link.unlink(missing_ok=True)
            link.symlink_to(server.data_dir)
        try:
            server._initdb(user)
        except BaseException:
            server.remove_scratch()
            raise
        return server

    def _initdb(self, user: pwd.struct_passwd | None) -> None:
        initdb = find_binary("initdb")
        run_as: dict[str, Any] = {}
        if user is not None:
            run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [],
                      "cwd": self.scratch_dir, "env": {"PATH": os.environ.get("PATH", ""), "LANG": "C"}}
        pwfile = self.data_dir.parent / ".postgres-password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password + "\n")
        try:
            if user is not None:
                os.chown(pwfile, user.pw_uid, user.pw_gid)
            done = subprocess.run(
                [initdb, "-D", str(self.data_dir), "-U", ROLE, "--auth=scram-sha-256", f"--pwfile={pwfile}",
                 "-E", "UTF8", "--locale=C", "--no-sync"],
                capture_output=True, text=True, timeout=120, check=False, **run_as)
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            raise PostgresError(f"initdb {self.data_dir} failed ({done.returncode}): "
                                f"{(done.stderr or done.stdout).strip()[-1500:]}")

    # -- addresses ----------------------------------------------------------------------------
    def dsn(self, database: str = DATABASE) -> str:
        """The BBS's DSN, password included: a secret (cluster.json keeps it in its private file)."""
        return f"postgresql://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        """The DSN without its password, for cluster.json's record and messages."""
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    def extra(self) -> dict[str, Any]:
        """What cluster.json keeps beside the pid to start the server again (not the password:
        that is in the store's DSN, kept private)."""
        return {"data_dir": str(self.data_dir), "port": self.port, "os_user": self.os_user,
                "scratch_dir": self.scratch_dir}

    @classmethod
    def from_extra(cls, extra: dict[str, Any], dsn: str) -> PostgresServer:
        from urllib.parse import urlsplit

        return cls(Path(extra["data_dir"]), int(extra["port"]), urlsplit(dsn).password or "",
                   extra.get("os_user", ""), extra.get("scratch_dir", ""))

    # -- running it ---------------------------------------------------------------------------
    def command(self) -> list[str]:
        """``python -m`` arguments that exec the postmaster (see ``main``)."""
        args = [__name__, "--data-dir", str(self.data_dir), "--port", str(self.port)]
        return [*args, "--os-user", self.os_user] if self.os_user else args

    def wait_ready(self, proc: Child, output: Path, timeout: float) -> None:
        """Until the server takes connections; ComponentStartError with its output if it exits
        first or does not get there within ``timeout`` (crash recovery included)."""
        import psycopg

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ComponentStartError(
                    f"postgres exited with status {proc.returncode} before it took connections; its "
                    f"output ({output}):\n{tail(output)}")
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.Error as exc:
                last = exc
            time.sleep(0.05)
        raise ComponentStartError(f"postgres did not take connections within {timeout:.0f} s ({last}); its "
                                  f"output ({output}):\n{tail(output)}")

    def ensure_database(self) -> None:
        """The BBS's database, made on the first start."""
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def remove_scratch(self) -> None:
        if self.scratch_dir:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)


def sweep_scratch() -> list[Path]:
    """Delete the scratch data directories (``create``, as root) that nothing uses any more: the
    process that made them is gone (a SIGKILLed launcher never removed its own) and no server
    runs on them. Returns what was deleted."""
    swept = []
    for scratch in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        if not _in_use(scratch):
            shutil.rmtree(scratch, ignore_errors=True)
            swept.append(scratch)
    return swept


def _in_use(scratch: Path) -> bool:
    """Whether the process that made ``scratch``, or a server on its data, still runs."""
    if owner_alive(scratch) is not False:  # alive, or no mark to judge it by: leave it alone
        return True
    try:
        postmaster = int((scratch / "data" / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False  # no server ran there, or it shut down and removed its pid file
    return psutil.pid_exists(postmaster)


def kill(info: ProcessInfo, reap: Child | None = None) -> bool:
    """SIGKILL the postmaster, as when its VM dies; False if it was not running.

    Its backends, orphaned, notice and exit on their own; this waits for them (and SIGKILLs any
    that linger), since a new postmaster refuses to start while they still hold the old one's
    shared memory."""
    try:
        backends = psutil.Process(info.pid).children() if info.is_ours() else []
    except psutil.Error:
        backends = []
    if not info.signal(signal.SIGKILL):
        return False
    if reap is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            reap.wait(timeout=5)
    _, lingering = psutil.wait_procs(backends, timeout=BACKEND_EXIT_TIMEOUT)
    for proc in lingering:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return True


def stop(info: ProcessInfo, reap: Child | None = None, grace: float = STOP_GRACE) -> None:
    """SIGINT (fast shutdown: clients are disconnected, the data checkpointed), SIGKILL after
    ``grace`` seconds."""
    if not info.signal(signal.SIGCONT) or not info.signal(signal.SIGINT):
        return
    deadline = time.monotonic() + grace
    while info.is_ours() and time.monotonic() < deadline:
        if reap is not None:
            reap.poll()
        time.sleep(0.05)
    if info.is_ours():
        kill(info, reap)
    elif reap is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            reap.wait(timeout=2)


# -- the process --------------------------------------------------------------------------------
def _server_argv(postgres: str, data_dir: str, port: int) -> list[str]:
    return [postgres, "-D", data_dir, "-p", str(port),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            "-c", f"cluster_name={CLUSTER_NAME}",
            # A killed server loses nothing the kernel already holds; only a crash of the machine
            # would, and that ends the cluster too. Commits still wait for their WAL write.
            "-c", "fsync=off"]


def main(argv: list[str] | None = None) -> int:
    """Become the server's OS user, die with the parent, exec the postmaster."""
    from pytest_diego.cluster.component import set_parent_death_signal

    p = argparse.ArgumentParser(prog=f"python -m {__name__}", description="The cluster's PostgreSQL server.")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--os-user", default="", help="run as this user (we must be root)")
    args = p.parse_args(argv)
    try:
        postgres = find_binary("postgres")
    except PostgresError as exc:
        print(f"postgres: {exc}", file=sys.stderr)
        return 2
    if args.os_user:
        user = pwd.getpwnam(args.os_user)
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
        os.environ.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
    os.chdir(args.data_dir)
    set_parent_death_signal(signal.SIGINT)  # after setuid, which clears it
    os.execv(postgres, _server_argv(postgres, args.data_dir, args.port))
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
