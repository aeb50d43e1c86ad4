"""ClusterConfig validation: bad settings fail before anything starts, naming the fix."""

from __future__ import annotations

import pytest

from pytest_diego.cluster import ClusterConfig, ClusterConfigError, EmbeddedCluster
from pytest_diego.cluster.cluster_config import cell_address


@pytest.mark.parametrize(("settings", "message"), [
    ({"cells": 0}, "cells must be a whole number >= 1"),
    ({"time_scale": -1}, "time_scale must be > 0"),
    ({"time_scale": 0}, "time_scale must be > 0"),
    ({"zones": 0}, "zones must be a whole number >= 1"),
    ({"db": "mysql://u:secret@h/db"}, r"use sqlite:///.*or 'postgresql' for a PostgreSQL server"),
    ({"cell_memory_mb": -5}, "cell_memory_mb must be a whole number >= 0"),
    ({"start_timeout": 0}, "start_timeout must be > 0"),
])
def test_bad_settings_are_rejected_with_the_fix(settings, message):
    with pytest.raises(ClusterConfigError, match=message) as info:
        ClusterConfig(**settings).validate()
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("db", [None, "postgresql", "sqlite:////tmp/bbs.sqlite3", "postgresql://u@h:5432/d"])
def test_stores_the_cluster_takes(db):
    ClusterConfig(db=db).validate()


def test_unwritable_state_dir_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ClusterConfigError, match=r"not writable.*--state-dir"):
        EmbeddedCluster.start(ClusterConfig(cells=1, state_dir=blocker / "sub"))


def test_cell_addresses_follow_the_contract():
    assert [cell_address(i) for i in (0, 1, 249, 250, 251)] == [
        "127.1.0.1", "127.1.0.2", "127.1.0.250", "127.1.1.1", "127.1.1.2"]
