"""Components of the embedded cluster run on their own, as the launcher runs them, for tests
that need a real process (a signal, a restart, a parent that dies)."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil

from pytest_diego.cluster.process import ComponentStartError, wait_for_run_files
from tests.support.waits import wait_until

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
"""The environment of a component's process: it imports this checkout's ``pytest_diego``."""


def command(component: str, state_dir: Path, *args: str) -> list[str]:
    """``python -m pytest_diego.cluster.<component> --state-dir DIR ARGS``."""
    return [sys.executable, "-m", f"pytest_diego.cluster.{component}", "--state-dir", str(state_dir), *args]


class ComponentProcess:
    """One component as a child process, its output in ``logs/<name>.out``; ``ready()`` waits
    until it has written ``run/<name>.json`` (its pid and addresses, then in ``info``).

    ``name`` is the run file's name when it is not the component's (``cell-0`` for a cell)."""

    def __init__(self, component: str, state_dir: Path, *args: str, name: str | None = None) -> None:
        self.name = name or component
        self.state_dir = state_dir
        self.run_file = state_dir / "run" / f"{self.name}.json"
        self.run_file.unlink(missing_ok=True)
        self.output = state_dir / "logs" / f"{self.name}.out"
        self.output.parent.mkdir(parents=True, exist_ok=True)
        with open(self.output, "ab") as out:  # a restart on the same state dir keeps what came before
            self.popen = subprocess.Popen(command(component, state_dir, *args), env=ENV, stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.info: dict[str, Any] = {}

    def ready(self, timeout: float = 30.0) -> ComponentProcess:
        wait_ready([self], timeout)
        return self

    @property
    def url(self) -> str:
        """The API URL its run file gives (the BBS's)."""
        return self.info["url"]

    @property
    def address(self) -> str:
        """The host:port its run file gives (Locket's)."""
        return self.info["address"]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (SIGKILL: the crash a fault test wants) and reap the process."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        self.popen.wait(10)

    def terminate(self) -> int:
        """SIGTERM, as the launcher stops a component; returns its exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(20)


class Starter:
    """Starts one component as often as a test asks (``start("--time-scale", "0.5")``, again on
    the same ``state_dir`` for a restart) and kills every one it started at ``kill_all()``."""

    def __init__(self, component: str, state_dir: Path) -> None:
        self.component = component
        self.state_dir = state_dir
        self.started: list[ComponentProcess] = []

    def __call__(self, *args: str, state_dir: Path | None = None) -> ComponentProcess:
        process = ComponentProcess(self.component, state_dir or self.state_dir, *args)
        self.started.append(process)
        return process.ready()

    def kill_all(self) -> None:
        for process in self.started:
            process.kill()


def wait_ready(processes: Iterable[ComponentProcess], timeout: float) -> None:
    """Wait for several components at once (they start in parallel); one that exits or is not
    ready in time fails the test with its output, and every one of them is killed."""
    waiting = list(processes)
    try:
        found = wait_for_run_files(waiting[0].state_dir, {p.name: p.popen for p in waiting},
                                   {p.name: p.output for p in waiting}, timeout)
    except ComponentStartError as exc:
        for process in waiting:
            process.kill()
        raise AssertionError(str(exc)) from None
    for process in waiting:
        process.info = found[process.name]


def gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie not reaped yet counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def assert_dies_with_its_parent(component: str, state_dir: Path, *args: str, name: str | None = None) -> None:
    """Start the component in the background of a shell, SIGKILL the shell once the component
    is ready, and fail unless the component exits within 10 s: an orphan would outlive the
    cluster that started it."""
    name = name or component
    run_file = state_dir / "run" / f"{name}.json"
    state_dir.mkdir(parents=True, exist_ok=True)
    in_background = f"{shlex.join(command(component, state_dir, *args))} & wait"
    with open(state_dir / f"{name}.out", "ab") as out:
        parent = subprocess.Popen(["/bin/sh", "-c", in_background], env=ENV, stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until(run_file.exists, 30, f"{name}'s run file")
        child = psutil.Process(json.loads(run_file.read_text())["pid"])
    except BaseException:
        with contextlib.suppress(psutil.Error):
            for orphan in psutil.Process(parent.pid).children(recursive=True):
                orphan.kill()
        raise
    finally:
        parent.kill()
        parent.wait()
    try:
        child.wait(timeout=10)
    except psutil.TimeoutExpired:
        child.kill()
        raise AssertionError(f"{name} outlived its parent") from None
