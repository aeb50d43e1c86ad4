"""Diego's own CLI against the embedded cluster: ``cfdot cells`` (the BBS's Cells route, backed by
Locket), ``cfdot presences`` and ``cfdot locks`` (Locket), all over the cluster's mutual TLS.

cfdot is a Go binary from diego-release, in neither Debian nor PyPI; this runs only where one is
on PATH (e.g. a Diego VM's /var/vcap/packages/cfdot/bin)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from pytest_diego.cluster import ClusterConfig, EmbeddedCluster

CFDOT = shutil.which("cfdot")
pytestmark = pytest.mark.skipif(
    CFDOT is None, reason="cfdot is not on PATH (not packaged for Debian or PyPI; it comes with "
                          "diego-release, whose Go code this project does not build)")


def cfdot(cluster: EmbeddedCluster, *args: str) -> list[dict]:
    tls = ["--caCertFile", str(cluster.ca_file), "--clientCertFile", str(cluster.cert_file),
           "--clientKeyFile", str(cluster.key_file)]
    result = subprocess.run([str(CFDOT), *args, *tls], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_cfdot_lists_the_cells_their_presences_and_the_bbs_lock(tmp_path):
    with EmbeddedCluster.start(ClusterConfig(cells=2, tls=True, time_scale=0.1, state_dir=tmp_path)) as c:
        cells = cfdot(c, "cells", "--bbsURL", c.bbs_url)
        assert sorted(cell["cell_id"] for cell in cells) == ["cell-0", "cell-1"]
        assert all(cell["rep_url"].startswith("https://") for cell in cells)
        presences = cfdot(c, "presences", "--locketAPILocation", c.locket_address)
        assert sorted(p["key"] for p in presences) == ["cell-0", "cell-1"]
        locks = cfdot(c, "locks", "--locketAPILocation", c.locket_address)
        assert [lock["key"] for lock in locks] == ["bbs"]
