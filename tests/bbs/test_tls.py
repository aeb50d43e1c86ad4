"""Mutual TLS like Diego's BBS (client certificates required), with certificates from tlsutil."""

from __future__ import annotations

import socket
import ssl
import stat

import pytest
from bbs_fakeserver import serve, server_context, stream_events
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from pytest_diego import tlsutil
from pytest_diego.bbs import BBSClient, models
from pytest_diego.bbs.errors import BBSConnectionError, BBSTLSError
from pytest_diego.bbs.events import encode_event

PING = models.PingResponse(available=True).SerializeToString()
TLS12 = ssl.TLSVersion.TLSv1_2


def ping_answer(request, handler):
    return (200, {"Content-Type": "application/x-protobuf"}, PING)


def mtls_client(url, pki, client=None, **options):
    client = client or pki.client
    return BBSClient(
        url, ca_file=pki.ca.cert_file, cert_file=client.cert_file, key_file=client.key_file, **options
    )


@pytest.mark.parametrize("maximum", [TLS12, ssl.TLSVersion.MAXIMUM_SUPPORTED], ids=["tls1.2", "tls-max"])
def test_mutual_tls_with_the_right_certificates(pki, maximum):
    with serve(server_context(pki, maximum=maximum)) as bbs:
        bbs.responder = ping_answer
        observed = []
        client = mtls_client(bbs.url, pki, observer=lambda *args: observed.append(args[3]))
        assert client.ping() is True
        assert client.ping() is True
        assert observed == ["ok", "ok"]
        assert bbs.handshake_errors == []
        assert len({request.client_port for request in bbs.requests}) == 1  # one handshake, kept alive


# Diego's internal TLS config caps some versions at TLS 1.2, where a rejected client certificate
# fails the handshake itself (with TLS 1.3 the rejection can arrive after the request was sent).
def test_missing_client_certificate(pki):
    with serve(server_context(pki, maximum=TLS12)) as bbs:
        bbs.responder = ping_answer
        observed = []
        client = BBSClient(bbs.url, ca_file=pki.ca.cert_file, observer=lambda *args: observed.append(args[3]))
        with pytest.raises(BBSTLSError) as info:
            client.ping()
    message = str(info.value)
    assert message.startswith(
        f"TLS handshake with the BBS at {bbs.url} failed: client certificate rejected: "
    )
    assert "check cert_file/key_file" in message
    assert observed == ["TLSError"]
    assert bbs.requests == []


def test_client_certificate_from_another_ca(pki):
    with serve(server_context(pki, maximum=TLS12)) as bbs:
        bbs.responder = ping_answer
        with pytest.raises(BBSTLSError, match="client certificate rejected: check cert_file/key_file"):
            mtls_client(bbs.url, pki, client=pki.other_client).ping()
    assert bbs.requests == []


@pytest.mark.parametrize("maximum", [TLS12, ssl.TLSVersion.MAXIMUM_SUPPORTED], ids=["tls1.2", "tls-max"])
def test_untrusted_server_certificate(pki, maximum):
    with serve(server_context(pki, maximum=maximum)) as bbs:
        bbs.responder = ping_answer
        client = BBSClient(
            bbs.url,
            ca_file=pki.other_ca.cert_file,
            cert_file=pki.client.cert_file,
            key_file=pki.client.key_file,
        )
        with pytest.raises(BBSTLSError, match="server certificate not trusted: check ca_file") as info:
            client.ping()
    assert info.value.url == bbs.url


def test_requests_ca_bundle_does_not_replace_the_configured_ca(pki, monkeypatch, tmp_path):
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a CA bundle")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with serve(server_context(pki)) as bbs:
        bbs.responder = ping_answer
        assert mtls_client(bbs.url, pki).ping() is True


def test_skip_cert_verify_accepts_an_untrusted_server(pki):
    with serve(server_context(pki)) as bbs:
        bbs.responder = ping_answer
        client = BBSClient(
            bbs.url, cert_file=pki.client.cert_file, key_file=pki.client.key_file, skip_cert_verify=True
        )
        assert client.ping() is True


def test_event_stream_over_mutual_tls(pki):
    event = models.TaskChangedEvent(before=models.Task(state=1), after=models.Task(state=2))
    with serve(server_context(pki)) as bbs:
        bbs.responder = lambda request, handler: stream_events(
            handler, [encode_event(4, event)], hold=bbs.stop
        )
        with mtls_client(bbs.url, pki).task_events() as events:
            received = next(events)
    assert (received.type, received.id, received.message) == ("task_changed", 4, event)


def test_tlsutil_certificates(pki, tmp_path):
    ca = x509.load_pem_x509_certificate(pki.ca.cert_file.read_bytes())
    server = x509.load_pem_x509_certificate(pki.server.cert_file.read_bytes())
    client = x509.load_pem_x509_certificate(pki.client.cert_file.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for cert in (ca, server, client):
        assert isinstance(cert.public_key(), rsa.RSAPublicKey)
        assert cert.public_key().key_size == 2048
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["bbs.service.cf.internal"]
    eku = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert server.issuer == ca.subject
    assert pki.server.ca_file == pki.ca.cert_file
    assert stat.S_IMODE(pki.client.key_file.stat().st_mode) == 0o600
    other = tlsutil.issue_cert(pki.ca, tmp_path, "cell-0", ["127.1.0.1", "::1"], dns_sans=["cell-0.internal"])
    context = ssl.create_default_context(cafile=str(pki.ca.cert_file))
    context.load_cert_chain(other.cert_file, other.key_file)  # a matching PEM pair


def test_connection_closed_after_the_handshake_hints_at_client_certificates(pki):
    def drop(request, handler):
        handler.connection.shutdown(socket.SHUT_RDWR)  # what a TLS 1.3 BBS rejecting us may look like

    with serve(server_context(pki)) as bbs:
        bbs.responder = drop
        with pytest.raises(BBSConnectionError) as info:
            mtls_client(bbs.url, pki).ping()
    assert str(info.value).endswith(
        "is it running? check url; "
        "if it requires client certificates, check cert_file/key_file"
    )
