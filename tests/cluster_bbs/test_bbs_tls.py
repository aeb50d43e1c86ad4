"""TLS: HTTPS with mandatory client certificates signed by the cluster's CA."""

from __future__ import annotations

import pytest

from pytest_diego import tlsutil
from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSTLSError
from pytest_diego.cluster.bbs import ConfigError
from tests.support.certificates import ec_cert


@pytest.fixture
def pki(tmp_path):
    ca = tlsutil.generate_ca(tmp_path / "ca")
    other_ca = tlsutil.generate_ca(tmp_path / "other", name="other CA")
    return {
        "ca": ca,
        "server": tlsutil.issue_cert(ca, tmp_path / "certs", "bbs.service.cf.internal"),
        "client": tlsutil.issue_cert(ca, tmp_path / "certs", "client", client=True),
        "stranger": tlsutil.issue_cert(other_ca, tmp_path / "other", "stranger", client=True),
    }


@pytest.fixture
def tls_bbs(make_bbs, pki):
    server = pki["server"]
    return make_bbs(tls_ca=pki["ca"].cert_file, tls_cert=server.cert_file, tls_key=server.key_file)


def test_accepts_a_client_signed_by_the_ca(tls_bbs, pki):
    assert tls_bbs.url.startswith("https://127.0.0.1:")
    c = pki["client"]
    with BBSClient(tls_bbs.url, ca_file=str(pki["ca"].cert_file), cert_file=str(c.cert_file),
                   key_file=str(c.key_file)) as client:
        assert client.ping() is True


def test_refuses_clients_without_a_certificate_or_from_another_ca(tls_bbs, pki):
    s = pki["stranger"]
    for kwargs in ({}, {"cert_file": str(s.cert_file), "key_file": str(s.key_file)}):
        with BBSClient(tls_bbs.url, ca_file=str(pki["ca"].cert_file), **kwargs) as client, \
                pytest.raises(BBSTLSError):
            client.ping()


def test_plain_http_is_not_served_on_the_tls_port(tls_bbs):
    import requests

    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(tls_bbs.url.replace("https", "http") + "/v1/ping", timeout=5)


def test_half_a_tls_config_is_refused(make_bbs, pki):
    with pytest.raises(ConfigError, match="--tls-key"):
        make_bbs(tls_ca=pki["ca"].cert_file, tls_cert=pki["server"].cert_file)


def test_a_non_rsa_server_certificate_is_refused(make_bbs, pki, tmp_path):
    cert_file, key_file = ec_cert(tmp_path, "ec-bbs")
    with pytest.raises(ConfigError, match="not RSA"):
        make_bbs(tls_ca=pki["ca"].cert_file, tls_cert=cert_file, tls_key=key_file)


def _handshake(bbs, pki, version):
    import socket
    import ssl
    import warnings

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(pki["ca"].cert_file))
    ctx.load_cert_chain(str(pki["client"].cert_file), str(pki["client"].key_file))
    ctx.check_hostname = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, version)
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    host, port = bbs.url.removeprefix("https://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw, ctx.wrap_socket(raw) as tls:
        return tls.cipher()[0]


def test_tls_1_2_uses_diegos_ciphers_and_1_1_is_refused(tls_bbs, pki):
    import ssl

    diego_ciphers = ("ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256")
    assert _handshake(tls_bbs, pki, "TLSv1_2") in diego_ciphers
    with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):  # the server's alert, not ours
        _handshake(tls_bbs, pki, "TLSv1_1")
