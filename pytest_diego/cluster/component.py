"""What every embedded component process does the same way.

Take the BBS's URL and client certificate alike, publish the run file the launcher waits for, die
with the parent so an interrupted run leaves no process behind, wait for SIGTERM/SIGINT, and serve
HTTP from threads without Nagle's 40 ms stall (through handlers that keep connections alive and
answer with a length).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import signal
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from pytest_diego.atomic_file import write_atomic

_PR_SET_PDEATHSIG = 1
_PARENT_POLL_SECONDS = 1.0


def add_bbs_arguments(p: argparse.ArgumentParser) -> None:
    """The BBS a component calls and the client certificate it calls with (see ``check_bbs_arguments``)."""
    p.add_argument("--bbs-url", required=True)
    p.add_argument("--tls-ca", help="CA file for the BBS's server certificate")
    p.add_argument("--tls-cert", help="client certificate for the BBS")
    p.add_argument("--tls-key", help="client key for the BBS")


def check_bbs_arguments(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors for what a BBS-calling component cannot run with: a --time-scale that is not
    positive, or a client certificate without its key."""
    if not args.time_scale > 0:
        p.error(f"--time-scale must be > 0, got {args.time_scale}")
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")


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


class ShutdownSignals:
    """SIGTERM/SIGINT caught from the moment this is made, so a process busy starting up (e.g. a
    BBS waiting for its lock) can check ``received`` and still stop at once."""

    def __init__(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
        self._received: list[int] = []
        self._done = threading.Event()
        for sig in signals:
            signal.signal(sig, self._handler)

    def _handler(self, signum: int, _frame: object) -> None:
        self._received.append(signum)
        self._done.set()

    @property
    def received(self) -> int | None:
        return self._received[0] if self._received else None

    def wait(self) -> int:
        """Block the main thread until a signal has arrived; returns its number."""
        while not self._done.wait(3600):
            pass
        return self._received[0]


def wait_for_shutdown_signal(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> int:
    """Block the main thread until one of ``signals`` arrives; returns its number."""
    return ShutdownSignals(signals).wait()


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


class ComponentHandler(BaseHTTPRequestHandler):
    """A component's HTTP handler: keep-alive HTTP/1.1, no line on stderr per request (components
    log through lager), and ``reply`` with the Content-Length keep-alive needs."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def reply(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve_in_thread(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0,
                    name: str = "http") -> FastHTTPServer:
    """Bind ``host:port`` (0: any free port) and serve ``handler`` from a daemon thread."""
    server = FastHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5},
                     name=f"{name}-server", daemon=True).start()
    return server


def bound_address(server: socketserver.TCPServer) -> tuple[str, int]:
    """Host and port of a bound TCP server: after the bind, ``server_address`` is its socket's
    name, whose host is a ``str`` (the stubs also allow the bytes an unbound one may be given)."""
    return cast("tuple[str, int]", server.server_address[:2])


def server_url(server: FastHTTPServer) -> str:
    """``http://host:port`` of a bound server."""
    host, port = bound_address(server)
    return f"http://{host}:{port}"
