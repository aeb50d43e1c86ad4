"""A fork server: import a component's modules once, then fork one process per request.

Starting a cell costs ~0.3 s of CPU in imports (protobuf models, requests); a hundred cells on
two cores would spend most of the start-up importing the same modules. The fork server imports
them once and forks each cell from that warm state, so every cell is still its own OS process
with its own pid (SIGKILL one and only that cell dies), started in milliseconds.

Protocol on stdin/stdout, one JSON object per line::

    -> {"module": "pytest_diego.cluster.cell.__main__", "argv": [...], "log": "/path/out",
        "name": "cell-3"}
    <- {"pid": 1234}            (or {"error": "..."})

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
import sys
import traceback
from contextlib import suppress
from typing import Any

_PR_SET_PDEATHSIG = 1
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


def serve(preload: list[str]) -> int:
    parent = os.getppid()
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    for name in preload:
        importlib.import_module(name)
    signal.signal(signal.SIGCHLD, _reap)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    buffer = b""
    while os.getppid() == parent:
        ready, _, _ = select.select([0], [], [], _PARENT_POLL_SECONDS)
        if not ready:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            return 0  # the launcher closed our stdin: it is done with us
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            try:
                request = json.loads(line)
                importlib.import_module(request["module"])  # fail here, not in the child
            except (ValueError, KeyError, ImportError) as exc:
                out.write(json.dumps({"error": f"bad request {line[:200]!r}: {exc}"}) + "\n")
                out.flush()
                continue
            pid = os.fork()
            if pid == 0:
                _run_child(request)
            out.write(json.dumps({"pid": pid}) + "\n")
            out.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_diego.cluster.forkserver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preload", action="append", default=[], help="module to import before forking")
    args = parser.parse_args(argv)
    return serve(args.preload)


if __name__ == "__main__":
    raise SystemExit(main())
