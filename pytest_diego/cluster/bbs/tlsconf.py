"""The BBS's TLS settings: Diego's internal-service defaults (TLS >= 1.2, the ECDHE-RSA-AES-GCM
ciphers, so RSA keys) and mandatory client certificates signed by the cluster's CA."""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from pytest_diego.cluster.bbs.config import ConfigError

CIPHERS = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"


def server_context(ca_file: Path, cert_file: Path, key_file: Path) -> ssl.SSLContext:
    for flag, path in (("--tls-ca", ca_file), ("--tls-cert", cert_file), ("--tls-key", key_file)):
        if not Path(path).is_file():
            raise ConfigError(f"{flag} {path}: no such file")
    cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        raise ConfigError(
            f"--tls-cert {cert_file}: the key is not RSA; Diego's TLS ciphers (ECDHE-RSA-AES-GCM) "
            "need an RSA certificate"
        )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CIPHERS)
    try:
        ctx.load_cert_chain(str(cert_file), str(key_file))
        ctx.load_verify_locations(str(ca_file))
    except (ssl.SSLError, OSError) as e:
        raise ConfigError(f"cannot load the BBS TLS files ({cert_file}, {key_file}, {ca_file}): {e}") from e
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
