"""A hollow cell's TLS on its securable listener, as Diego's rep's: a server certificate for
``<cell-id>.cell.service.cf.internal`` and the address it serves on, issued by the rep CA for
each cell at start (the cells of one process share one RSA key: making a key costs ~50 ms, a
certificate ~1 ms), and mutual TLS: clients (the auctioneer, the BBS) present a certificate the
client CA signed. TLS >= 1.2 with Diego's ECDHE-RSA-AES-GCM ciphers, as tlsconfig's
internal-service defaults."""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pytest_diego import tlsutil
from pytest_diego.rep.client import CIPHERS

CELL_DOMAIN = "cell.service.cf.internal"


def rep_host(cell_id: str) -> str:
    """The rep's DNS name (rep ``repHost``: underscores become dashes)."""
    return f"{cell_id.replace('_', '-')}.{CELL_DOMAIN}"


@dataclass(frozen=True)
class RepTLS:
    """Where a cell's certificate comes from: a rep CA (and its key) to issue one per cell, or one
    certificate for every cell; ``client_ca_file`` is the CA client certificates must come from."""

    client_ca_file: str
    ca_file: str = ""
    ca_key_file: str = ""
    key_file: str = ""  # the key the issued certificates share (default: a new one per process)
    cert_file: str = ""  # a given certificate (with key_file), instead of issuing

    def __post_init__(self) -> None:
        issuing, given = bool(self.ca_file and self.ca_key_file), bool(self.cert_file and self.key_file)
        if issuing == given:
            raise ValueError("a cell's TLS needs a rep CA and its key (--rep-ca, --rep-ca-key) to issue "
                             "each cell a certificate, or a certificate and key (--rep-cert, --rep-key)")


class CellCertificates:
    """Makes each cell's server context; one per process, its key shared by its cells."""

    def __init__(self, tls: RepTLS) -> None:
        self.tls = tls
        self._key = None
        if tls.ca_file:
            self._key = tlsutil.load_key(tls.key_file) if tls.key_file else tlsutil.new_key()

    def server_context(self, cell_id: str, address: str) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(CIPHERS)
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(self.tls.client_ca_file)
        if not self.tls.ca_file:
            context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
            return context
        with tempfile.TemporaryDirectory(prefix="hollow-cell-tls-") as directory:  # 0700, gone at once
            ca = tlsutil.CertificateAuthority(Path(self.tls.ca_file), Path(self.tls.ca_key_file))
            issued = tlsutil.issue_cert(ca, directory, cell_id, ip_sans=(address,),
                                        dns_sans=(rep_host(cell_id),), key=self._key)
            context.load_cert_chain(str(issued.cert_file), str(issued.key_file))
            os.unlink(issued.key_file)
        return context
