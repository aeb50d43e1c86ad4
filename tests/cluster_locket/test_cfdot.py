"""Diego's own client against the embedded Locket: ``cfdot locks`` and ``cfdot presences``.

cfdot is a Go binary from diego-release; it is in neither Debian nor PyPI, and the project does not
build Diego's code, so this runs only where a cfdot is on PATH (e.g. a Diego VM's
/var/vcap/packages/cfdot/bin added to PATH).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from pytest_diego.locket import LocketClient, models

CFDOT = shutil.which("cfdot")
pytestmark = pytest.mark.skipif(
    CFDOT is None, reason="cfdot is not on PATH (not packaged for Debian or PyPI; it comes with "
                          "diego-release, whose Go code this project does not build)")


def cfdot(command: str, address: str, pki) -> list[dict]:
    result = subprocess.run(
        [CFDOT, command, "--locketAPILocation", address, "--caCertFile", str(pki.ca.cert_file),
         "--clientCertFile", str(pki.client.cert_file), "--clientKeyFile", str(pki.client.key_file)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_cfdot_lists_locks_and_presences(make_locket, pki):
    locket = make_locket(tls_ca=pki.ca.cert_file, tls_cert=pki.server.cert_file, tls_key=pki.server.key_file)
    with LocketClient(locket.address, ca_file=pki.ca.cert_file, cert_file=pki.client.cert_file,
                      key_file=pki.client.key_file) as client:
        client.lock("bbs", "bbs-uuid")
        client.lock("cell-1", "rep-guid", value='{"cell_id":"cell-1"}', type_code=models.PRESENCE)
    locks = cfdot("locks", locket.address, pki)
    presences = cfdot("presences", locket.address, pki)
    assert [(r["key"], r["owner"], r["type"]) for r in locks] == [("bbs", "bbs-uuid", "lock")]
    assert [(r["key"], r["owner"], r["value"], r["type"]) for r in presences] == [
        ("cell-1", "rep-guid", '{"cell_id":"cell-1"}', "presence")]
