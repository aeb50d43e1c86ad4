"""Certificates ``pytest_diego.tlsutil`` never makes, for tests that must see them refused: one
whose validity has ended, and one with an EC key (Diego's TLS allows only RSA key exchange)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pytest_diego.tlsutil import CertificateAuthority, IssuedCert


def expired_cert(ca: CertificateAuthority, directory: Path, name: str, *, client: bool = False) -> IssuedCert:
    """A certificate for ``name`` signed by ``ca`` whose validity ended yesterday: a client
    certificate, or a server certificate for 127.0.0.1."""
    ca_cert = x509.load_pem_x509_certificate(Path(ca.cert_file).read_bytes())
    ca_key = serialization.load_pem_private_key(Path(ca.key_file).read_bytes(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    use: x509.ExtensionType = (
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]) if client
        else x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30))
            .not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(use, critical=False)
            .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]
    cert_file, key_file = _write(directory, "expired", cert, key)
    return IssuedCert(cert_file, key_file, Path(ca.cert_file))


def ec_cert(directory: Path, name: str = "ec") -> tuple[Path, Path]:
    """A self-signed certificate with a P-256 key: (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return _write(directory, name, cert, key)


def _write(directory: Path, stem: str, cert: x509.Certificate,
           key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file
