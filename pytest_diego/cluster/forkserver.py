"""A fork server: import a component's modules once, then fork one process per request.

Starting a cell costs ~0.3 s of CPU in imports (protobuf models, requests); a hundred cells on
two cores would spend most of the start-up importing the same modules. The fork server imports
them once and forks each cell from that warm state, so every cell is still its own OS process
with its own pid (SIGKILL one and only that cell dies), started in milliseconds.

Protocol on stdin/stdout, one JSON object per line::

    -> {"module": "pytest_diego.cluster.cell.__main__", "argv": [...], "log": "/path/out",
        "name": "cell-3"}
    <- {"pid": 1234}            (or {"error": "..."})

The same requests are taken on a Unix socket (``--socket``, one request per connection, only
for our user), so that any process using the cluster (an xdist worker restarting a cell) gets
a cell that lives as long as the cluster, not as long as that process.

The first line written is ``{"ready": true}`` once the preloads are imported. The server is
single-threaded (so forking is safe), reaps its children, exits when stdin closes or its parent
dies, and its children die with it (each component sets PR_SET_PDEATHSIG on its parent).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import json
import os
import select
import signal
import socket
import sys
import traceback
from contextlib import suppress
from typing import Any

from pytest_diego.cluster.component import set_parent_death_signal

_PR_SET_NAME = 15
_PARENT_POLL_SECONDS = 1.0


def _reap(_signum: int, _frame: object) -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _run_child(request: dict[str, Any]) -> None:
    """In the forked child: become the component. Never returns."""
    code = 1
    try:
        if request.get("name"):  # what ps -o comm and top show, instead of the server's name
            with suppress(OSError, AttributeError):
                ctypes.CDLL(None).prctl(_PR_SET_NAME, str(request["name"])[:15].encode(), 0, 0, 0)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - fds 0-2 stay open for the process's life
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        module = importlib.import_module(request["module"])
        sys.argv = [request["module"], *request["argv"]]
        code = int(module.main(list(request["argv"])) or 0)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _fork(line: bytes, close_in_child: list[int]) -> dict[str, Any]:
    """Handle one request line; the reply to send back."""
    try:
        request = json.loads(line)
        importlib.import_module(request["module"])  # fail here, not in the child
    except (ValueError, KeyError, ImportError) as exc:
        return {"error": f"bad request {line[:200]!r}: {exc}"}
    pid = os.fork()
    if pid == 0:
        for fd in close_in_child:
            with suppress(OSError):
                os.close(fd)
        _run_child(request)
    return {"pid": pid}


def _serve_connection(listener: socket.socket) -> None:
    """One request per connection on the socket (restarts from any process using the cluster)."""
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(5.0)
        try:
            line = conn.makefile("rb").readline()
            reply = _fork(line, [listener.fileno(), conn.fileno()])
            conn.sendall((json.dumps(reply) + "\n").encode())
        except OSError:
            pass  # the client went away; a forked child still writes its run file


def serve(preload: list[str], socket_path: str | None) -> int:
    parent = os.getppid()
    set_parent_death_signal(signal.SIGTERM)  # no watchdog thread: the select loop below polls
    for name in preload:
        importlib.import_module(name)
    signal.signal(signal.SIGCHLD, _reap)
    listener = None
    if socket_path:
        with suppress(FileNotFoundError):
            os.unlink(socket_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o077)  # only our user may ask us to fork
        try:
            listener.bind(socket_path)
        finally:
            os.umask(old_umask)
        listener.listen(16)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    buffer = b""
    inputs: list[Any] = [0] if listener is None else [0, listener]
    try:
        while os.getppid() == parent:
            ready, _, _ = select.select(inputs, [], [], _PARENT_POLL_SECONDS)
            if listener is not None and listener in ready:
                _serve_connection(listener)
            if 0 not in ready:
                continue
            chunk = os.read(0, 65536)
            if not chunk:
                return 0  # the launcher closed our stdin: it is done with us
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                close = [listener.fileno()] if listener is not None else []
                out.write(json.dumps(_fork(line, close)) + "\n")
                out.flush()
        return 0
    finally:
        if socket_path:
            with suppress(OSError):
                os.unlink(socket_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_diego.cluster.forkserver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preload", action="append", default=[], help="module to import before forking")
    parser.add_argument("--socket", help="also take requests on this Unix socket, one per connection")
    args = parser.parse_args(argv)
    return serve(args.preload, args.socket)


if __name__ == "__main__":
    raise SystemExit(main())
