"""Starting, finding and stopping the embedded cluster's component processes.

Processes are identified by pid *and* creation time: a pid from an old cluster.json may have
been reused by an unrelated process, which must never be signalled. Every spawn happens on one
long-lived thread, because PR_SET_PDEATHSIG (which components use to die with their parent)
fires when the *thread* that forked them exits, not the process: a BBS restarted from a
short-lived nemesis thread would otherwise be killed when that thread ends. Cells come from the
fork server (``forkserver.py``), driven from here over its pipes or its socket.
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psutil

# Process names for the ``ps``-style identity check: every component runs as
# ``python -m pytest_diego.cluster.<component>`` and the launcher as ``python -m pytest_diego``.
_MODULE_PREFIX = "pytest_diego"


class ComponentStartError(RuntimeError):
    """A component exited or did not publish its run file in time."""


@dataclass
class ProcessInfo:
    """A process we started, as recorded in cluster.json."""

    pid: int
    create_time: float

    def is_ours(self) -> bool:
        """True if ``pid`` is still the process we started (not a reused pid, not a zombie)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.05:
                return False
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            return any(_MODULE_PREFIX in part for part in proc.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False

    def signal(self, sig: int) -> bool:
        """Send ``sig`` if the process is still ours; False if it is gone (or not ours)."""
        if not self.is_ours():
            return False
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        return True


def create_time_of(pid: int) -> float:
    return psutil.Process(pid).create_time()


OWNER_FILE = "owner"
"""In a scratch directory: ``<pid> <start time>`` of the process that made it (``mark_owner``)."""


def mark_owner(directory: Path) -> None:
    """Record that this process made ``directory``, so a later sweep can tell once it is gone
    (a SIGKILLed maker never removes its own)."""
    (directory / OWNER_FILE).write_text(f"{os.getpid()} {psutil.Process().create_time()}\n")


def owner_alive(directory: Path) -> bool | None:
    """Whether the process that made ``directory`` still runs; None when it bears no readable
    mark (being made right now, or not made by ``mark_owner``): leave such a directory alone.
    Start times match within a second: psutil derives them from the boot time, which a clock
    step moves."""
    try:
        pid, started = (directory / OWNER_FILE).read_text().split()
        return abs(psutil.Process(int(pid)).create_time() - float(started)) < 1.0
    except psutil.NoSuchProcess:
        return False
    except (OSError, ValueError, psutil.Error):
        return None


class Spawner:
    """Runs every ``Popen`` on one daemon thread that lives as long as the process (see module doc)."""

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[Callable[[], subprocess.Popen[bytes]], Future[Any]]] = queue.Queue()
        threading.Thread(target=self._run, name="spawner", daemon=True).start()

    def _run(self) -> None:
        while True:
            start, future = self._requests.get()
            try:
                future.set_result(start())
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)

    def spawn(self, args: Sequence[str], log_path: Path, *, pipes: bool = False) -> subprocess.Popen[bytes]:
        """Start ``python -m <args>`` with stderr (and stdout, unless ``pipes``) appended to
        ``log_path``; with ``pipes`` the caller talks to it over stdin/stdout."""
        log_path.parent.mkdir(parents=True, exist_ok=True)

        def start() -> subprocess.Popen[bytes]:
            with open(log_path, "ab") as log:
                return subprocess.Popen(
                    [sys.executable, "-m", *args], stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                    stdout=subprocess.PIPE if pipes else log, stderr=log, close_fds=True,
                )

        future: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put((start, future))
        return future.result()


class ForkedProcess:
    """A process forked by the fork server: not our child, so ``poll`` asks the kernel via psutil."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._info = ProcessInfo(pid, create_time_of(pid)) if psutil.pid_exists(pid) else None

    def poll(self) -> int | None:
        if self.returncode is None and (self._info is None or not self._info.is_ours()):
            self.returncode = -1  # the fork server reaped it; its status is not ours to know
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.02)
        return -1


class ForkServer:
    """Client of ``pytest_diego.cluster.forkserver``: preload once, fork many (see that module)."""

    def __init__(self, spawner: Spawner, preload: Sequence[str], log_path: Path,
                 socket_path: Path | None = None) -> None:
        args = ["pytest_diego.cluster.forkserver", *[a for m in preload for a in ("--preload", m)]]
        if socket_path is not None:
            args += ["--socket", str(socket_path)]
        self.proc = spawner.spawn(args, log_path, pipes=True)
        self.log_path = log_path
        self._lock = threading.Lock()

    def wait_ready(self, timeout: float) -> None:
        """Wait until the preloads are imported (the server imports while other things start)."""
        reply = self._read_reply(timeout)
        if not reply.get("ready"):
            raise ComponentStartError(f"fork server did not start: {reply}; output:\n{tail(self.log_path)}")

    def _read_reply(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            raise ComponentStartError(
                f"fork server exited or did not answer within {timeout:.0f} s; its output "
                f"({self.log_path}):\n{tail(self.log_path)}"
            )
        return json.loads(line)

    def fork(self, module: str, argv: Sequence[str], log_path: Path, name: str = "") -> ForkedProcess:
        """Start ``module.main(argv)`` in a new process forked from the warm server; ``name``
        becomes its process name (``ps -o comm``)."""
        line = _fork_request(module, argv, log_path, name)
        with self._lock:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(line)
                self.proc.stdin.flush()
            except BrokenPipeError as exc:
                raise ComponentStartError(f"fork server is gone; its output:\n{tail(self.log_path)}") from exc
            reply = self._read_reply(30.0)
        if "pid" not in reply:
            raise ComponentStartError(f"fork server could not start {module}: {reply.get('error')}")
        return ForkedProcess(int(reply["pid"]))


def _fork_request(module: str, argv: Sequence[str], log_path: Path, name: str) -> bytes:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    request = {"module": module, "argv": list(argv), "log": str(log_path), "name": name}
    return (json.dumps(request) + "\n").encode()


def fork_via_socket(socket_path: Path, module: str, argv: Sequence[str], log_path: Path,
                    name: str = "") -> ForkedProcess:
    """Ask a running fork server, from any process, to start ``module.main(argv)``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(30.0)
        try:
            conn.connect(str(socket_path))
            conn.sendall(_fork_request(module, argv, log_path, name))
            reply = json.loads(conn.makefile("rb").readline() or b"{}")
        except (OSError, ValueError) as exc:
            raise ComponentStartError(f"fork server at {socket_path} did not answer: {exc}") from exc
    if "pid" not in reply:
        raise ComponentStartError(f"fork server could not start {module}: {reply.get('error', reply)}")
    return ForkedProcess(int(reply["pid"]))


def read_run_file(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no output)"


class Child(Protocol):
    """What the launcher needs of a started process: a ``Popen`` or a ``ForkedProcess``."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def wait_for_run_files(
    state_dir: Path, procs: dict[str, Child], stderr_logs: dict[str, Path], timeout: float,
) -> dict[str, dict[str, Any]]:
    """Wait until every ``<state_dir>/run/<name>.json`` written by ``procs[name]`` exists.

    A run file from an earlier process with the same name is ignored (its pid differs). Raises
    ComponentStartError naming the component and showing its output if it exits or times out.
    """
    run_dir = state_dir / "run"
    waiting = dict(procs)
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while waiting:
        for name, proc in list(waiting.items()):
            info = read_run_file(run_dir / f"{name}.json")
            if info is not None and info.get("pid") == proc.pid:
                found[name] = info
                del waiting[name]
            elif proc.poll() is not None:
                raise ComponentStartError(
                    f"{name} exited with status {proc.returncode} before it was ready; its output "
                    f"({stderr_logs[name]}):\n{tail(stderr_logs[name])}"
                )
        if waiting and time.monotonic() > deadline:
            names = ", ".join(sorted(waiting))
            first = sorted(waiting)[0]
            raise ComponentStartError(
                f"{len(waiting)} component(s) not ready after {timeout:.0f} s: {names}. Output of "
                f"{first} ({stderr_logs[first]}):\n{tail(stderr_logs[first])}\n"
                "A loaded machine may need a longer start timeout."
            )
        if waiting:
            time.sleep(0.05)
    return found


def stop_processes(processes: Iterable[ProcessInfo], grace: float = 5.0,
                   children: Iterable[Child] = ()) -> list[int]:
    """SIGTERM every process that is still ours, SIGKILL those alive after ``grace`` seconds;
    reap our own children. Returns the pids that had to be killed."""
    targets = [p for p in processes if p.signal(signal.SIGTERM)]
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.is_ours() for p in targets):
        _reap(children)
        time.sleep(0.05)
    killed = [p.pid for p in targets if p.signal(signal.SIGKILL)]
    for child in children:
        with suppress(subprocess.TimeoutExpired):
            child.wait(timeout=2)
    return killed


def _reap(children: Iterable[Child]) -> None:
    for child in children:
        child.poll()
