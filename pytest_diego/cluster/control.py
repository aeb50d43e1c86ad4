"""Faults by name, and the ``cluster up`` launcher's control socket that delivers them for
other processes (``python -m pytest_diego cluster fault``).

A restarted BBS, auctioneer, router, route emitter or PostgreSQL server is a child of the process
that restarts it and dies with it (``PR_SET_PDEATHSIG``), so a short-lived command cannot restart
one itself: it asks the launcher, which lives as long as the cluster. That lets a run against a
"real Diego" that is in fact an embedded cluster configure every ``diego_*_command`` fault as an
operator would, and have it delivered with real signals.

The protocol is one JSON line each way over a Unix socket only the launcher's user can open
(mode 0600; ``<state_dir>/run/control.sock``, or in a private temp dir when that path is too long
for a Unix socket): ``{"fault": kind, "target": target}`` → ``{"ok": true, "detail": ...}`` or
``{"ok": false, "error": ...}``. Faults run one at a time, in the order they arrive; one whose
asker gave up while it waited its turn is not delivered.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

TARGETED_FAULTS = ("kill_cell", "restart_cell", "freeze_cell", "thaw_cell", "pause", "resume")
UNTARGETED_FAULTS = ("kill_bbs", "restart_bbs", "kill_database", "restart_database", "wipe_store")
FAULTS = TARGETED_FAULTS + UNTARGETED_FAULTS
MAX_UNIX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux
PRIVATE_PREFIX = "pytest-diego-control-"
MAX_MESSAGE = 64 * 1024
REQUEST_TIMEOUT = 10.0  # seconds a client has to send its request line


class ControlError(RuntimeError):
    """The launcher could not be asked, or refused: the message says why and what to do."""


def check_fault(kind: str, target: str) -> None:
    """Raise ``ValueError`` naming the problem when ``kind``/``target`` is not a fault."""
    if kind not in FAULTS:
        raise ValueError(f"no fault {kind!r}; faults: {', '.join(FAULTS)}")
    if kind in TARGETED_FAULTS and not target:
        what = "a cell id" if kind.endswith("_cell") else "a component or cell id"
        raise ValueError(f"{kind} needs {what}, e.g. {kind} cell-0")


def deliver(cluster: object, kind: str, target: str = "") -> str:
    """One fault by its nemesis name on ``cluster`` (an ``EmbeddedCluster``), with real signals;
    "was not running" if the component had stopped."""
    check_fault(kind, target)
    method = getattr(cluster, kind)
    done = method(target) if kind in TARGETED_FAULTS else method()
    return "was not running" if done is False else ""


class ControlServer:
    """The launcher's side: accept requests on a thread, deliver each fault on ``cluster``, one at
    a time; ``close`` refuses new requests and waits for the fault under way, so no component is
    restarted after the cluster stopped."""

    def __init__(self, cluster: object, state_dir: Path) -> None:
        self.cluster = cluster
        self.path, self._private_dir = _socket_path(state_dir)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.path))
        os.chmod(self.path, 0o600)  # connecting needs write permission: the launcher's user only
        self._sock.listen(8)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="cluster-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:  # closed
                return
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        try:
            # a silent or trickling client must not hold up the faults after it
            request = json.loads(_read_line(conn, time.monotonic() + REQUEST_TIMEOUT))
            kind, target = str(request.get("fault", "")), str(request.get("target") or "")
        except (ValueError, AttributeError, OSError) as exc:
            reply = {"ok": False, "error": f"not a fault request: {exc}"}
        else:
            if self._closed.is_set():
                reply = {"ok": False, "error": "the cluster is stopping"}
            elif _peer_gone(conn):  # it gave up waiting (or died): its fault was reported failed
                return
            else:
                try:
                    reply = {"ok": True, "detail": deliver(self.cluster, kind, target)}
                except Exception as exc:  # the asker gets the reason; the launcher keeps serving
                    reply = {"ok": False, "error": str(exc) or type(exc).__name__}
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(reply).encode() + b"\n")

    def close(self, timeout: float = 150.0) -> None:
        """Stop accepting, wait up to ``timeout`` s for the fault under way (a restart waits for
        its component to start), remove the socket."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(timeout)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)


def request(socket_path: str, kind: str, target: str = "", timeout: float = 240.0) -> str:
    """Ask the launcher listening on ``socket_path`` to deliver a fault; its detail, or
    ``ControlError`` with the reason. ``timeout`` bounds the whole exchange."""
    check_fault(kind, target)
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(socket_path)
        except OSError as exc:
            reason = exc.strerror or exc
            raise ControlError(f"cannot reach the cluster's launcher at {socket_path} ({reason}): "
                               "is its `cluster up` still running?") from None
        try:
            sock.sendall(json.dumps({"fault": kind, "target": target}).encode() + b"\n")
            line = _read_line(sock, deadline)
        except TimeoutError:
            raise ControlError(f"{kind} did not finish within {timeout:g}s") from None
        except OSError as exc:
            raise ControlError(f"the launcher dropped the connection during {kind}: {exc}") from None
        except ValueError as exc:
            raise ControlError(f"the launcher's answer is not a fault reply: {exc}") from None
    try:
        reply = json.loads(line)
    except ValueError:
        raise ControlError(f"the launcher answered {line[:200]!r}, not a fault reply") from None
    if not reply.get("ok"):
        raise ControlError(str(reply.get("error") or "refused without a reason"))
    return str(reply.get("detail") or "")


def _read_line(sock: socket.socket, deadline: float) -> str:
    """One line, by ``deadline`` (``TimeoutError`` after it) and at most MAX_MESSAGE bytes."""
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no whole line in time")
        sock.settimeout(remaining)
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_MESSAGE:
            raise ValueError(f"message longer than {MAX_MESSAGE} bytes")
    return data.decode()


def _peer_gone(conn: socket.socket) -> bool:
    """Whether the asker closed its end (EOF or reset) while its request waited its turn."""
    conn.setblocking(False)  # with a timeout set, recv would first wait for data
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        conn.setblocking(True)


def _socket_path(state_dir: Path) -> tuple[Path, Path | None]:
    """``<state_dir>/run/control.sock``, or one in a private temp dir when that path is too long
    for a Unix socket (the second value: the dir to remove)."""
    path = Path(state_dir).resolve() / "run" / "control.sock"
    if len(str(path)) <= MAX_UNIX_SOCKET_PATH:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, None
    private = Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX))
    return private / "control.sock", private


def remove_socket(socket_path: str) -> None:
    """Remove a socket its launcher left behind (SIGKILLed, it could not), with its private dir."""
    path = Path(socket_path)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    if path.parent.name.startswith(PRIVATE_PREFIX):
        shutil.rmtree(path.parent, ignore_errors=True)
