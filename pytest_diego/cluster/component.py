"""What every embedded component process does the same way.

Publish the run file the launcher waits for, die with the parent so an interrupted run leaves no
process behind, wait for SIGTERM/SIGINT, and serve HTTP from threads without Nagle's 40 ms stall.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pytest_diego.atomic_file import write_atomic

_PR_SET_PDEATHSIG = 1
_PARENT_POLL_SECONDS = 1.0


def write_run_file(state_dir: Path | str, name: str, info: dict[str, Any]) -> Path:
    """Write ``<state_dir>/run/<name>.json`` atomically (temp file, then ``os.replace``)."""
    path = Path(state_dir) / "run" / f"{name}.json"
    write_atomic(path, json.dumps(info), mode=0o644)
    return path


def set_parent_death_signal(sig: int = signal.SIGTERM) -> None:
    """Ask Linux for ``sig`` when the parent (thread) exits; a no-op where prctl is missing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def die_with_parent(sig: int = signal.SIGTERM) -> int:
    """Get ``sig`` when the parent exits; returns the parent pid being watched.

    ``PR_SET_PDEATHSIG`` is immediate but tied to the parent *thread* and Linux-only, so a daemon
    thread also polls ``os.getppid()`` once a second and signals this process when it changes.
    """
    parent = os.getppid()
    set_parent_death_signal(sig)

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(_PARENT_POLL_SECONDS)
        os.kill(os.getpid(), sig)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
    return parent


def wait_for_shutdown_signal(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> int:
    """Block the main thread until one of ``signals`` arrives; returns its number."""
    received: list[int] = []
    done = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        received.append(signum)
        done.set()

    for sig in signals:
        signal.signal(sig, handler)
    while not done.wait(3600):
        pass
    return received[0]


class FastHTTPServer(ThreadingHTTPServer):
    """A thread-per-connection HTTP server with TCP_NODELAY on every accepted socket.

    Without it, http.server's separate header and body writes meet delayed ACKs and each
    response stalls ~40 ms.
    """

    daemon_threads = True
    block_on_close = False  # keep-alive handler threads must not hold up shutdown
    request_queue_size = 1024

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr


def serve_in_thread(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0,
                    name: str = "http") -> FastHTTPServer:
    """Bind ``host:port`` (0: any free port) and serve ``handler`` from a daemon thread."""
    server = FastHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5},
                     name=f"{name}-server", daemon=True).start()
    return server


def server_url(server: FastHTTPServer) -> str:
    """``http://host:port`` of a bound server."""
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
