"""Turning what went wrong on the way to the BBS into the client's errors, with what to check.

One classification for both transports (the socket pool for calls, requests for event streams):
it walks the whole exception chain (causes, contexts, ``args``, urllib3's ``.reason``) for the
standard library's exception underneath, so the same failure gives the same class and message
whichever transport met it. Settings are named by their labels (``settings.py``).
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Mapping

from pytest_diego.bbs.errors import (
    BBSClientError,
    BBSConnectionError,
    BBSHTTPError,
    BBSProtocolError,
    BBSTimeoutError,
    BBSTLSError,
)
from pytest_diego.bbs.transport import MalformedResponse

_DROPPED = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)

# OpenSSL reasons meaning the BBS refused our certificate (alerts it sent during the handshake).
_CLIENT_REJECTED = (
    "ALERT_CERTIFICATE_REQUIRED",
    "ALERT_BAD_CERTIFICATE",
    "ALERT_UNKNOWN_CA",
    "ALERT_HANDSHAKE_FAILURE",
    "ALERT_CERTIFICATE_UNKNOWN",
    "ALERT_CERTIFICATE_EXPIRED",
    "ALERT_CERTIFICATE_REVOKED",
    "ALERT_UNSUPPORTED_CERTIFICATE",
    "ALERT_ACCESS_DENIED",
    "ALERT_DECRYPT_ERROR",
)


def transport_error(url: str, route: str, timeout: float, exc: BaseException,
                    labels: Mapping[str, str]) -> BBSClientError:
    """The client error for a call that got no HTTP response."""
    chain = _chain(exc)
    # the socket's own timeout, under urllib3's and requests' wrappers too
    if any(isinstance(item, TimeoutError) for item in chain):
        return BBSTimeoutError(
            f"the BBS at {url} did not answer {route} within {timeout:g}s "
            f"(raise the client timeout or check the BBS's load): {_cause(chain)}",
            url=url,
        )
    malformed = next((item for item in chain if isinstance(item, MalformedResponse)), None)
    if malformed is not None:
        return BBSProtocolError(
            f"the server at {url} answered {route} with {malformed} — is {url} a Diego BBS? "
            f"check {labels['url']}",
            url=url,
        )
    tls_error = next((item for item in chain if isinstance(item, ssl.SSLError)), None)
    if tls_error is not None:
        return BBSTLSError(_tls_message(url, tls_error, labels), url=url)
    hint = f"is it running? check {labels['url']}"
    if url.startswith("https://") and any(isinstance(item, _DROPPED) for item in chain):
        # with TLS 1.3 a BBS that rejects our certificate may just close the connection
        hint += f"; if it requires client certificates, check {labels['cert_file']}/{labels['key_file']}"
    return BBSConnectionError(f"could not connect to the BBS at {url}: {_cause(chain)} — {hint}", url=url)


def http_error(url: str, route: str, path: str, status: int, content: bytes) -> BBSHTTPError:
    """The client error for an HTTP status other than 200 (Diego's BBS answers 200, errors in band)."""
    if status == 404:
        text = f"endpoint not found: the BBS at {url} does not serve {path} (older BBS?)"
    elif status == 503:
        text = f"BBS unavailable at {url}: HTTP 503 (migrations running or not the active BBS)"
    else:
        snippet = content[:200].decode("utf-8", "replace").strip()
        text = f"the BBS at {url} answered {route} ({path}) with HTTP {status}" + (
            f": {snippet}" if snippet else ""
        )
    return BBSHTTPError(text, url=url, status=status)


def _chain(exc: BaseException) -> list[BaseException]:
    """Every exception reachable from ``exc`` through causes, contexts, args and ``.reason``."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if any(current is known for known in seen):
            continue
        seen.append(current)
        nested = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        todo.extend(item for item in nested if isinstance(item, BaseException))
    return seen


def _cause(chain: list[BaseException]) -> str:
    """The most telling message in the chain, the standard library's: ``[Errno 111] Connection
    refused``, ``The read operation timed out`` (not a wrapper's text, which differs by transport)."""
    for item in chain:
        if isinstance(item, OSError) and item.strerror and not isinstance(item, ssl.SSLError):
            return f"[Errno {item.errno}] {item.strerror}" if item.errno else item.strerror
    for item in chain:
        if type(item) is TimeoutError:
            return str(item)
    return str(chain[-1])


def _tls_message(url: str, tls_error: ssl.SSLError, labels: Mapping[str, str]) -> str:
    detail = str(tls_error)
    reason = (tls_error.reason or detail).upper()
    if isinstance(tls_error, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in reason:
        verify_message = getattr(tls_error, "verify_message", "") or detail
        return (
            f"TLS handshake with the BBS at {url} failed: server certificate not trusted: "
            f"check {labels['ca_file']} ({verify_message})"
        )
    if any(marker in reason for marker in _CLIENT_REJECTED):
        return (
            f"TLS handshake with the BBS at {url} failed: client certificate rejected: "
            f"check {labels['cert_file']}/{labels['key_file']} ({detail})"
        )
    return f"TLS handshake with the BBS at {url} failed: {detail}"
