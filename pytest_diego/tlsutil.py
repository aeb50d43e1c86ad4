"""Per-cluster certificate authority and certificates for mutual TLS on loopback.

Diego's internal TLS allows only ECDHE-RSA-AES-GCM ciphers, so keys are RSA (2048 bits); the
certificates carry the extensions strict verifiers want (SAN, key identifiers, key usage), so they
work with OpenSSL's and Go's TLS 1.2 and 1.3 clients.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_BITS = 2048


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA on disk: ``cert_file`` is what clients and servers trust (``--diego-ca``)."""

    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class IssuedCert:
    """A certificate and key signed by ``ca_file``'s CA."""

    cert_file: Path
    key_file: Path
    ca_file: Path


def generate_ca(
    directory: str | os.PathLike[str], name: str = "pytest-diego CA", days: int = 365
) -> CertificateAuthority:
    """Create a self-signed CA as ``<directory>/<name>.crt`` and ``.key`` (spaces become dashes)."""
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    public_key = key.public_key()
    cert = (
        _builder(subject, subject, public_key, days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = _write(Path(directory), name, cert, key)
    return CertificateAuthority(cert_file, key_file)


def issue_cert(
    ca: CertificateAuthority,
    directory: str | os.PathLike[str],
    name: str,
    ip_sans: Iterable[str] = ("127.0.0.1",),
    *,
    client: bool = False,
    dns_sans: Iterable[str] = (),
    days: int = 365,
    key: rsa.RSAPrivateKey | None = None,
) -> IssuedCert:
    """Issue a server certificate (or, with ``client=True``, a client one) named ``name``.

    Server certificates are valid for ``ip_sans`` and ``dns_sans`` (``name`` is also added as a
    DNS name when no DNS SAN is given); files are ``<directory>/<name>.crt`` and ``.key``. ``key``
    reuses a key (generating one costs ~50 ms; many hollow cells share one), else a new one.
    """
    ca_cert = x509.load_pem_x509_certificate(Path(ca.cert_file).read_bytes())
    ca_key = serialization.load_pem_private_key(Path(ca.key_file).read_bytes(), password=None)
    key = key or _new_key()
    public_key = key.public_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    dns = list(dns_sans) or ([name] if not client else [])
    sans: list[x509.GeneralName] = [x509.DNSName(value) for value in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(value)) for value in ip_sans]
    builder = (
        _builder(subject, ca_cert.subject, public_key, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    cert_file, key_file = _write(Path(directory), name, cert, key)
    return IssuedCert(cert_file, key_file, Path(ca.cert_file))


def load_key(path: str | os.PathLike[str]) -> rsa.RSAPrivateKey:
    """An RSA private key from a PEM file (no password)."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: not an RSA key (Diego's TLS ciphers need RSA)")
    return key


def write_key(path: str | os.PathLike[str], key: rsa.RSAPrivateKey) -> Path:
    """Write ``key`` as PEM to ``path``, readable by its owner only."""
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return Path(path)


def new_key() -> rsa.RSAPrivateKey:
    """A new RSA key of ``KEY_BITS``."""
    return _new_key()


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey, days: int
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
    )


def _write(directory: Path, name: str, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    stem = name.replace(" ", "-").replace("/", "-")
    cert_file = directory / f"{stem}.crt"
    key_file = directory / f"{stem}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    return cert_file, key_file
