"""The BBS client's settings, checked before any call: the URL and the TLS files.

Every message names a setting by its label: by default the ``BBSClient`` parameter
(``cert_file``), or what the caller says it came from (the plugin says
``--diego-cert (CLIENT_CERT_FILE)``), so the reader knows what to change.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pytest_diego.bbs.errors import BBSConfigError

SETTINGS = ("url", "ca_file", "cert_file", "key_file")
DEFAULT_LABELS: Mapping[str, str] = {name: name for name in SETTINGS}


def labels_for(given: Mapping[str, str] | None) -> dict[str, str]:
    """Every setting's label: the given ones, the parameter names for the rest."""
    unknown = set(given or ()) - set(SETTINGS)
    if unknown:
        raise BBSConfigError(f"setting_labels has unknown settings {sorted(unknown)}; "
                             f"known: {', '.join(SETTINGS)}")
    return {**DEFAULT_LABELS, **(given or {})}


def check_url(url: str, labels: Mapping[str, str]) -> str:
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BBSConfigError(
            f"BBS URL {url!r} ({labels['url']}) must look like https://bbs.service.cf.internal:8889 "
            "or http://127.0.0.1:PORT"
        )
    return str(url).rstrip("/")


@dataclass(frozen=True)
class TLSSettings:
    """The TLS side of a client: ``context`` for the socket pool (None on plain HTTP), and what
    requests needs for event streams (``verify``: CA path, True or False; ``cert``)."""

    context: ssl.SSLContext | None
    verify: str | bool
    cert: tuple[str, str] | None


def check_tls(url: str, ca_file: str | os.PathLike[str] | None, cert_file: str | os.PathLike[str] | None,
              key_file: str | os.PathLike[str] | None, skip_cert_verify: bool,
              labels: Mapping[str, str]) -> TLSSettings:
    """Readable files that fit the URL's scheme, loaded into a TLS >= 1.2 client context."""
    given = {"ca_file": ca_file, "cert_file": cert_file, "key_file": key_file}
    paths = {name: _readable(name, path, labels) for name, path in given.items() if path is not None}
    if not url.startswith("https://"):
        if paths:
            names = ", ".join(labels[name] for name in paths)
            raise BBSConfigError(f"{names} given but the BBS URL {url} is plain HTTP: "
                                 "use https:// or drop them")
        return TLSSettings(None, True, None)
    if ("cert_file" in paths) != ("key_file" in paths):
        given_one = "cert_file" if "cert_file" in paths else "key_file"
        raise BBSConfigError(
            f"a client certificate needs both {labels['cert_file']} and {labels['key_file']}; "
            f"only {labels[given_one]} was given"
        )
    ca = paths.get("ca_file")
    try:
        context = ssl.create_default_context(cafile=ca or _default_ca_bundle())
    except (ssl.SSLError, ValueError) as exc:
        raise BBSConfigError(f"{labels['ca_file']} {ca} is not a PEM CA certificate: {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    cert = None
    if "cert_file" in paths:
        cert = (paths["cert_file"], paths["key_file"])
        try:
            context.load_cert_chain(*cert)
        except ssl.SSLError as exc:
            raise BBSConfigError(
                f"{labels['cert_file']} {cert[0]} and {labels['key_file']} {cert[1]} are not a PEM "
                f"certificate and its matching unencrypted private key: {exc}"
            ) from exc
    if skip_cert_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    verify: str | bool = False if skip_cert_verify else paths.get("ca_file", True)
    return TLSSettings(context, verify, cert)


def _default_ca_bundle() -> str | None:
    """certifi's bundle, which requests trusts by default (so both transports trust the same CAs)."""
    try:
        import certifi
    except ImportError:  # the system's CAs then
        return None
    return certifi.where()


def _readable(name: str, path: str | os.PathLike[str], labels: Mapping[str, str]) -> str:
    text = os.fspath(path)
    if not os.path.isfile(text):
        raise BBSConfigError(f"{labels[name]} {text}: no such file")
    if not os.access(text, os.R_OK):
        raise BBSConfigError(f"{labels[name]} {text}: not readable by this user")
    return text
