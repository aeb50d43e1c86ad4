"""Locket's server TLS: mutual, as Locket builds it (tlsconfig's internal-service defaults with
client authentication from the CA file): every client must present a certificate the CA signed.

gRPC (BoringSSL) allows TLS 1.2 and 1.3 and, with an RSA certificate, negotiates TLS 1.2 only with
ECDHE-RSA-AES-GCM, which is Diego's internal cipher list. The certificate must therefore be RSA, or
a Diego client capped at TLS 1.2 finds no common cipher; that is checked here, at start.
"""

from __future__ import annotations

from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from pytest_diego.cluster.locket.config import ConfigError


def server_credentials(ca_file: Path, cert_file: Path, key_file: Path) -> grpc.ServerCredentials:
    pem = {}
    for flag, path in (("--tls-ca", ca_file), ("--tls-cert", cert_file), ("--tls-key", key_file)):
        try:
            pem[flag] = Path(path).read_bytes()
        except OSError as e:
            raise ConfigError(f"{flag} {path}: cannot read it ({e.strerror or e})") from None
    try:
        cert = x509.load_pem_x509_certificate(pem["--tls-cert"])
    except ValueError as e:
        raise ConfigError(f"--tls-cert {cert_file}: not a PEM certificate ({e})") from None
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        raise ConfigError(f"--tls-cert {cert_file}: the key is not RSA; Diego's TLS ciphers "
                          "(ECDHE-RSA-AES-GCM) need an RSA certificate")
    return grpc.ssl_server_credentials([(pem["--tls-key"], pem["--tls-cert"])],
                                       root_certificates=pem["--tls-ca"], require_client_auth=True)
