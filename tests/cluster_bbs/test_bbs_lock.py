"""The BBS and Locket: the ``bbs`` lock (only its holder serves, a restarted BBS takes it back at
once), LockHeld/BBSMasterElected, and what the BBS does while Locket cannot be reached: the Cells
route answers the error in band and convergence skips its run (Diego's ``ConvergeLRPs``), so no
instance is called lost for Locket's outage."""

from __future__ import annotations

import time

import pytest
import requests
from bbs_harness import CellsInLocket, by_index, desired_lrp, instance_key, lrp_key, net_info, presence

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSConnectionError, BBSError
from pytest_diego.cluster.bbs.config import BBSConfig, ConfigError
from pytest_diego.measure.prometheus_text import exposition_values

SCALE = 0.01  # lock retry 0.05 s; Lockets at this scale: lock and presence TTL 0.15 s
# A BBS that must keep its lock throughout a test: a 1.5 s lock refreshed every 0.2 s, each refresh
# given as long to answer, so a thread stalled on a busy machine does not cost it the lock
HELD = {"time_scale": SCALE, "intervals": {"lock_retry_interval": 0.2}}
HELD_LOCKET_SCALE = 0.1


def _metrics(bbs, *names: str) -> dict[str, float]:
    return exposition_values(requests.get(bbs.metrics_url, timeout=5).text, list(names))


def _refused(url: str) -> bool:
    try:
        BBSClient(url, timeout=2).ping()
    except BBSConnectionError:
        return True
    return False


def test_the_bbs_holds_its_lock_under_its_owner_and_says_so(make_bbs, make_locket):
    locket = make_locket(HELD_LOCKET_SCALE)
    bbs = make_bbs(**HELD, locket_address=locket.address, lock_owner="bbs-0-uuid")
    held = locket.client.fetch("bbs")
    assert (held.owner, held.type) == ("bbs-0-uuid", "lock")
    assert _metrics(bbs, "LockHeld", "BBSMasterElected") == {"LockHeld": 1, "BBSMasterElected": 1}


def test_only_the_holder_serves_and_the_next_takes_over_when_it_stops(make_bbs, make_locket):
    locket = make_locket(HELD_LOCKET_SCALE)
    first = make_bbs(**HELD, locket_address=locket.address, lock_owner="first")
    with pytest.raises(ConfigError, match="did not get the 'bbs' lock"):
        make_bbs(**HELD, locket_address=locket.address, lock_owner="second", start_wait=0.5)
    second = make_bbs(**HELD, locket_address=locket.address, lock_owner="second", start_wait=None)
    time.sleep(0.7)  # several of its retries
    assert not second.serving.is_set()
    assert _metrics(second, "LockHeld") == {"LockHeld": 0}
    first.stop()  # releases the lock, as Diego's BBS does when signalled
    assert second.serving.wait(5)
    assert locket.client.fetch("bbs").owner == "second"
    assert BBSClient(second.url).ping() is True


def test_a_restarted_bbs_with_the_same_owner_takes_its_lock_back_at_once(make_bbs, make_locket, tmp_path):
    locket = make_locket(1.0)  # the lock would otherwise block another owner for 15 s
    state_dir = tmp_path / "restarted"
    first = make_bbs(state_dir=state_dir, time_scale=SCALE, locket_address=locket.address, lock_owner="same")
    first.lock.stop(release=False)  # gone without releasing, like a SIGKILL
    first.stop()
    started = time.monotonic()
    again = make_bbs(state_dir=state_dir, time_scale=SCALE, locket_address=locket.address, lock_owner="same")
    assert again.serving.is_set() and time.monotonic() - started < 5
    with pytest.raises(ConfigError):  # another owner waits for the 15 s TTL
        make_bbs(time_scale=SCALE, locket_address=locket.address, lock_owner="other", start_wait=0.5)


def test_without_locket_cells_is_an_error_and_convergence_waits(make_bbs, auctioneer, tmp_path):
    scale = 0.4  # the BBS refreshes its lock every 2 s: the checks before its next refresh fit
    locket = CellsInLocket(tmp_path / "locket", scale)
    port = int(locket.address.rsplit(":", 1)[1])
    bbs = make_bbs(time_scale=scale, auctioneer_url=auctioneer.url, locket_address=locket.address)
    client = BBSClient(bbs.url)
    locket.register(presence("cell-0"))
    client.desire_lrp(desired_lrp("web"))
    client.claim_actual_lrp("web", 0, instance_key())
    client.start_actual_lrp(lrp_key("web"), instance_key(), net_info())
    bbs.converge()
    runs = _metrics(bbs, "ConvergenceLRPRuns")["ConvergenceLRPRuns"]

    locket.stop()
    with pytest.raises(BBSError) as refused:
        client.cells()
    assert refused.value.type == "UnknownError" and "Locket" in str(refused.value)
    bbs.converge()  # Diego's: "failed-listing-cells", nothing converged
    assert _metrics(bbs, "ConvergenceLRPRuns")["ConvergenceLRPRuns"] == runs
    assert list(by_index(client, "web")) == [(0, models.ActualLRP.ORDINARY)]
    assert "bbs.converge-lrps.failed-listing-cells" in bbs.config.log_path.read_text()

    deadline = time.monotonic() + 10  # its next refresh fails: the lock is lost, it stops serving
    while not _refused(bbs.url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _refused(bbs.url)
    assert _metrics(bbs, "LockHeld") == {"LockHeld": 0}

    back = CellsInLocket(tmp_path / "locket", scale, listen=f"127.0.0.1:{port}")  # same store, same port
    try:
        assert bbs.serving.wait(10), "the BBS did not take its lock back once Locket returned"
        assert BBSClient(bbs.url).ping() is True
        back.register(presence("cell-0"))
        assert [c.cell_id for c in client.cells()] == ["cell-0"]
    finally:
        back.stop()


def test_an_interval_can_be_set_apart_from_the_time_scale_and_a_bad_one_is_named(tmp_path):
    config = BBSConfig(state_dir=tmp_path, time_scale=SCALE, intervals={"lock_retry_interval": 0.2})
    assert (config.timing.lock_retry_interval, config.timing.convergence_interval) == (0.2, 30 * SCALE)
    with pytest.raises(ConfigError, match="intervals: unknown Diego interval 'lock_retry'"):
        BBSConfig(state_dir=tmp_path, intervals={"lock_retry": 0.2})
    with pytest.raises(ConfigError, match="--time-scale: time scale must be > 0"):
        BBSConfig(state_dir=tmp_path, time_scale=0)
