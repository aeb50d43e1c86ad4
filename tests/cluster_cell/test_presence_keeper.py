"""A cell's presence in a real (in-process) Locket: the rep's JSON under the cell id, a new owner
per process start that waits out an old presence quietly, release, and a Locket outage."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pytest_diego.cluster.cell.presence import PresenceKeeper
from pytest_diego.cluster.locket import LocketConfig, LocketServer
from pytest_diego.lager import Logger
from pytest_diego.locket import LocketClient, marshal_cell_presence, models, new_cell_presence
from pytest_diego.locket.errors import ResourceNotFoundError

PRESENCE = new_cell_presence("cell-7", "https://127.1.0.8:1801", "https://127.1.0.8:1801", "z1",
                             memory_mb=1024, disk_mb=2048, containers=4, rootfs_providers=["docker"],
                             preloaded_rootfses=["cflinuxfs4"])


def log_messages(path: Path) -> list[str]:
    return [json.loads(line)["message"] for line in path.read_text().splitlines()]


def test_the_presence_is_the_reps_json_under_the_cell_id(tmp_path):
    with LocketServer(LocketConfig(state_dir=tmp_path)) as locket, LocketClient(locket.address) as client:
        keeper = PresenceKeeper(client, Logger("rep", tmp_path / "rep.log"), retry_interval=1.0)
        assert keeper.keep(PRESENCE) and keeper.keep(PRESENCE)  # acquired, then refreshed
        held = client.fetch("cell-7")
        assert (held.owner, held.type) == (keeper.owner, "presence")
        assert held.value == marshal_cell_presence(PRESENCE)
        keeper.release()
        with pytest.raises(ResourceNotFoundError):
            client.fetch("cell-7")
    messages = log_messages(tmp_path / "rep.log")
    assert messages.count("rep.locket-lock.acquired-lock") == 1
    assert "rep.locket-lock.released-lock" in messages


def test_a_restarted_cell_waits_out_its_old_presence_quietly(tmp_path):
    scale = 0.02  # a presence lasts 0.3 s
    with LocketServer(LocketConfig(state_dir=tmp_path, time_scale=scale)) as locket, \
            LocketClient(locket.address) as client:
        old = PresenceKeeper(client, Logger("rep", tmp_path / "old.log"), retry_interval=0.1)
        assert old.keep(PRESENCE)  # then the process is SIGKILLed: no release
        new = PresenceKeeper(client, Logger("rep", tmp_path / "new.log"), retry_interval=0.1)
        assert new.owner != old.owner
        assert not new.keep(PRESENCE)  # lock-collision: the old presence is still there
        deadline = time.monotonic() + 5
        while not new.keep(PRESENCE):
            assert time.monotonic() < deadline, "the old presence never expired"
            time.sleep(0.05)
        assert client.fetch("cell-7").owner == new.owner
    assert log_messages(tmp_path / "new.log") == ["rep.locket-lock.acquired-lock"]  # collisions are quiet


def test_a_locket_outage_loses_the_presence_and_the_next_refresh_takes_it_back(tmp_path):
    config = LocketConfig(state_dir=tmp_path)
    locket = LocketServer(config).start()
    port = locket.port
    client = LocketClient(locket.address)
    keeper = PresenceKeeper(client, Logger("rep", tmp_path / "rep.log"), retry_interval=0.2)
    try:
        assert keeper.keep(PRESENCE)
        locket.stop()
        assert not keeper.keep(PRESENCE)
        assert "rep.locket-lock.lost-lock" in log_messages(tmp_path / "rep.log")
        locket = LocketServer(LocketConfig(state_dir=tmp_path, listen=f"127.0.0.1:{port}")).start()
        deadline = time.monotonic() + 10
        while not keeper.keep(PRESENCE):
            assert time.monotonic() < deadline, "the presence was not taken back"
        assert [r.key for r in client.fetch_all(models.PRESENCE)] == ["cell-7"]
    finally:
        client.close()
        locket.stop()
