"""Mutual TLS as Locket requires it: a client certificate signed by the CA Locket trusts, or no call."""

from __future__ import annotations

import grpc
import pytest

from pytest_diego.cluster.locket import ConfigError
from pytest_diego.locket import LocketClient, models
from pytest_diego.locket._pb.locket_pb2_grpc import LocketStub
from pytest_diego.locket.errors import LocketConfigError, LocketConnectionError, LocketTLSError
from tests.support.certificates import ec_cert


@pytest.fixture
def tls_locket(make_locket, pki):
    return make_locket(tls_ca=pki.ca.cert_file, tls_cert=pki.server.cert_file, tls_key=pki.server.key_file)


def mtls(address, pki, client=None, ca=None, **options):
    client = client or pki.client
    return LocketClient(address, ca_file=(ca or pki.ca).cert_file, cert_file=client.cert_file,
                        key_file=client.key_file, timeout=5, **options)


def test_a_client_signed_by_the_ca_is_served(tls_locket, pki):
    assert tls_locket.run_info()["tls"] is True
    with mtls(tls_locket.address, pki) as locket:
        locket.lock("cell-1", "rep", type_code=models.PRESENCE)
        assert [r.key for r in locket.fetch_all(models.PRESENCE)] == ["cell-1"]
    with mtls(tls_locket.address, pki, server_name="locket.service.cf.internal") as locket:
        assert locket.fetch("cell-1").owner == "rep"


def test_a_client_without_a_certificate_is_refused(tls_locket, pki):
    channel = grpc.secure_channel(tls_locket.address,
                                  grpc.ssl_channel_credentials(root_certificates=pki.ca.cert_file.read_bytes()))
    with channel, pytest.raises(grpc.RpcError) as info:
        LocketStub(channel).Lock(models.LockRequest(
            resource=models.Resource(key="bbs", owner="intruder", type_code=models.LOCK), ttl_in_seconds=15),
            timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    with mtls(tls_locket.address, pki) as locket:
        assert locket.fetch_all(models.LOCK) == []  # the refused call changed nothing


def test_a_client_certificate_from_another_ca_is_refused(tls_locket, pki):
    with mtls(tls_locket.address, pki, client=pki.stranger) as stranger, \
            pytest.raises(LocketTLSError) as info:
        stranger.lock("bbs", "intruder")
    assert f"TLS handshake with Locket at {tls_locket.address} failed" in str(info.value)
    assert "check cert_file/key_file" in str(info.value)
    with mtls(tls_locket.address, pki) as locket:
        assert locket.fetch_all(models.LOCK) == []


def test_a_plain_client_is_refused_and_told_to_use_tls(tls_locket):
    with LocketClient(tls_locket.address, timeout=5) as plain, pytest.raises(LocketConnectionError) as info:
        plain.fetch_all(models.LOCK)
    assert "if it requires TLS, give ca_file, cert_file and key_file" in str(info.value)


def test_a_locket_certificate_the_client_does_not_trust(tls_locket, pki):
    with mtls(tls_locket.address, pki, ca=pki.other_ca) as locket, pytest.raises(LocketTLSError) as info:
        locket.fetch_all(models.LOCK)
    assert "its certificate is not trusted by ca_file" in str(info.value)


def test_tls_client_against_a_plain_locket(locket, pki):
    with mtls(locket.address, pki) as client, pytest.raises(LocketTLSError, match="does not speak TLS"):
        client.fetch_all(models.LOCK)


def test_the_client_needs_all_three_files(pki, tmp_path):
    with pytest.raises(LocketConfigError, match="missing: key_file"):
        LocketClient("127.0.0.1:8891", ca_file=pki.ca.cert_file, cert_file=pki.client.cert_file)
    with pytest.raises(LocketConfigError, match=r"cert_file .*cannot read it"):
        LocketClient("127.0.0.1:8891", ca_file=pki.ca.cert_file, cert_file=tmp_path / "nope.crt",
                     key_file=pki.client.key_file)


def test_the_server_refuses_a_non_rsa_certificate(make_locket, pki, tmp_path):
    cert_file, key_file = ec_cert(tmp_path)
    with pytest.raises(ConfigError, match="not RSA"):
        make_locket(tls_ca=pki.ca.cert_file, tls_cert=cert_file, tls_key=key_file)
    with pytest.raises(ConfigError, match=r"--tls-key .*cannot read it"):
        make_locket(tls_ca=pki.ca.cert_file, tls_cert=pki.server.cert_file, tls_key=tmp_path / "missing.key")
    with pytest.raises(ConfigError, match="all of --tls-ca, --tls-cert and --tls-key"):
        make_locket(tls_ca=pki.ca.cert_file)
