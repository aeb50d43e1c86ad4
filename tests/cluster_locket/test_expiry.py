"""TTL expiry as Locket's lock pick does it: one TTL after the last refresh, never while refreshed.

The server runs at time-scale 0.1, so the 15 s TTL a client sends lasts 1.5 s (the perf suites' scale).
"""

from __future__ import annotations

import time

import pytest
from locket_harness import log_lines, metric

from pytest_diego.locket import models
from pytest_diego.locket.errors import ResourceNotFoundError
from tests.support.waits import wait_until

SCALE = 0.1
TTL = models.DEFAULT_SESSION_TTL  # seconds on the wire: Diego's 15
WALL_TTL = TTL * SCALE


@pytest.fixture
def fast(make_locket):
    return make_locket(time_scale=SCALE)


@pytest.fixture
def fast_client(fast):
    from pytest_diego.locket import LocketClient

    with LocketClient(fast.address, timeout=5) as c:
        yield c


def held(client, key: str) -> bool:
    try:
        client.fetch(key)
    except ResourceNotFoundError:
        return False
    return True


def test_an_unrefreshed_presence_is_dropped_after_its_ttl(fast, fast_client):
    fast_client.lock("cell-1", "rep", type_code=models.PRESENCE, ttl_in_seconds=TTL)
    started = time.monotonic()
    time.sleep(WALL_TTL / 2)
    assert held(fast_client, "cell-1"), "dropped before half its TTL"
    wait_until(lambda: not held(fast_client, "cell-1"), 3 * WALL_TTL, "presence dropped")
    assert time.monotonic() - started >= WALL_TTL * 0.95
    assert fast_client.fetch_all(models.PRESENCE) == []
    assert metric(fast.metrics_url, "PresenceExpired") == 1
    assert metric(fast.metrics_url, "LocksExpired") == 0
    assert metric(fast.metrics_url, "ActivePresences") == 0
    expired = [line for line in log_lines(fast.config.state_dir)
               if line["message"] == "locket.lock.register-ttl.lock-expired"]
    assert [line["data"]["resource-key"] for line in expired] == ["cell-1"]


def test_refreshing_keeps_it_past_many_ttls_and_the_ttl_counts_from_the_last_refresh(fast, fast_client):
    fast_client.lock("bbs", "bbs-1", ttl_in_seconds=TTL)
    until = time.monotonic() + 3 * WALL_TTL
    while time.monotonic() < until:
        time.sleep(WALL_TTL * 0.3)
        fast_client.lock("bbs", "bbs-1", ttl_in_seconds=TTL)
        assert held(fast_client, "bbs"), "expired although refreshed within its TTL"
    last_refresh = time.monotonic()
    time.sleep(WALL_TTL / 2)
    assert held(fast_client, "bbs"), "expired less than one TTL after its last refresh"
    wait_until(lambda: not held(fast_client, "bbs"), 3 * WALL_TTL, "lock expired")
    assert time.monotonic() - last_refresh >= WALL_TTL * 0.95
    assert metric(fast.metrics_url, "LocksExpired") == 1


def test_one_refresh_moves_the_deadline_to_one_ttl_after_it(fast, fast_client):
    fast_client.lock("cell-1", "rep", type_code=models.PRESENCE, ttl_in_seconds=TTL)
    time.sleep(WALL_TTL * 0.6)
    fast_client.lock("cell-1", "rep", type_code=models.PRESENCE, ttl_in_seconds=TTL)
    refreshed = time.monotonic()
    time.sleep(WALL_TTL * 0.6)  # past the first deadline, before the second
    assert held(fast_client, "cell-1"), "expired at its first deadline although refreshed"
    wait_until(lambda: not held(fast_client, "cell-1"), 2 * WALL_TTL,
               "presence dropped one TTL after its refresh")
    assert time.monotonic() - refreshed >= WALL_TTL * 0.95


def test_after_expiry_another_owner_can_take_it(fast, fast_client):
    fast_client.lock("auctioneer", "a-1", ttl_in_seconds=TTL)
    wait_until(lambda: not held(fast_client, "auctioneer"), 3 * WALL_TTL, "lock expired")
    fast_client.lock("auctioneer", "a-2", ttl_in_seconds=TTL)
    assert fast_client.fetch("auctioneer").owner == "a-2"


def test_each_resource_keeps_its_own_ttl(fast, fast_client):
    fast_client.lock("short", "o", ttl_in_seconds=TTL)
    fast_client.lock("long", "o", ttl_in_seconds=10 * TTL)
    wait_until(lambda: not held(fast_client, "short"), 3 * WALL_TTL, "short expired")
    assert held(fast_client, "long")


def test_a_released_and_retaken_lock_is_not_expired_by_the_old_timer(fast, fast_client):
    fast_client.lock("bbs", "old", ttl_in_seconds=TTL)
    time.sleep(WALL_TTL / 2)
    fast_client.release("bbs", "old")
    fast_client.lock("bbs", "new", ttl_in_seconds=TTL)  # a new version, its own full TTL
    time.sleep(WALL_TTL * 0.75)  # past the old version's deadline
    assert fast_client.fetch("bbs").owner == "new"
    assert metric(fast.metrics_url, "LocksExpired") == 0
