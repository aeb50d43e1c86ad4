"""An xdist worker's private copies of the cluster's TLS files: made only it can read them, and
swept once the worker that made them is gone (a SIGKILLed worker cannot remove its own)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from pytest_diego.cluster.process import OWNER_FILE
from pytest_diego.pytest_support import embedded


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def left_by(temp_dir: Path, name: str, pid: int, started: float) -> Path:
    path = temp_dir / f"{embedded.PRIVATE_PREFIX}{name}"
    path.mkdir()
    (path / OWNER_FILE).write_text(f"{pid} {started}")
    (path / "tls.key_file").write_text("key")
    return path


def test_a_dead_workers_directory_is_swept_a_live_ones_and_a_half_made_one_are_kept(temp_dir: Path):
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    started = psutil.Process(worker.pid).create_time()
    worker.kill()
    worker.wait()
    dead = left_by(temp_dir, "dead", worker.pid, started)
    me = psutil.Process()
    live = left_by(temp_dir, "live", me.pid, me.create_time())
    reused_pid = left_by(temp_dir, "reused", me.pid, me.create_time() - 100)
    half_made = temp_dir / f"{embedded.PRIVATE_PREFIX}half"
    half_made.mkdir()

    assert sorted(embedded.sweep_private_dirs()) == sorted([dead, reused_pid])
    assert not dead.exists() and not reused_pid.exists()
    assert live.exists() and half_made.exists()


def test_a_new_private_directory_is_the_workers_alone_and_names_it(temp_dir: Path):
    path = Path(embedded.private_dir())
    assert path.parent == temp_dir and path.name.startswith(embedded.PRIVATE_PREFIX)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert (path / OWNER_FILE).read_text().split()[0] == str(os.getpid())
    assert embedded.sweep_private_dirs() == []
