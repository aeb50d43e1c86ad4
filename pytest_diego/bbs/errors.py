"""Errors raised by the BBS client.

``BBSError`` is an in-band BBS error (the response's ``error`` field, typed by Diego's ``Error.Type``
name). Every other error is about reaching the BBS at all, names its URL and says what to check.
Each class carries ``outcome``, the string the client reports to its observer for that failure.
"""

from __future__ import annotations

from pytest_diego.client_error import ClientError


class BBSClientError(ClientError):
    """Base of every error raised by ``BBSClient``."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class BBSConfigError(BBSClientError, ValueError):
    """The client was configured wrongly (bad URL, missing or unreadable certificate files)."""

    outcome = "ConfigError"


class BBSError(BBSClientError):
    """An error the BBS returned in band, e.g. ``BBSError("ResourceExists", "the resource ...")``."""

    def __init__(self, type: str, message: str, *, url: str = "") -> None:
        super().__init__(f"{type}: {message}", url=url)
        self.type = type
        self.message = message
        self.outcome = type


class BBSConnectionError(BBSClientError):
    """The BBS could not be reached: connection refused, unreachable, or dropped mid-request."""

    outcome = "ConnectionError"


class BBSTimeoutError(BBSClientError):
    """The BBS did not answer within the client's timeout."""

    outcome = "Timeout"


class BBSTLSError(BBSClientError):
    """The TLS handshake failed: our certificate was rejected or the BBS's is not trusted."""

    outcome = "TLSError"


class BBSHTTPError(BBSClientError):
    """The BBS answered with an HTTP status other than 200 (Diego's BBS always answers 200)."""

    outcome = "HTTPError"

    def __init__(self, message: str, *, url: str = "", status: int = 0) -> None:
        super().__init__(message, url=url)
        self.status = status


class BBSProtocolError(BBSClientError):
    """The BBS answered with a body that does not decode as the expected protobuf message."""

    outcome = "InvalidProtobufMessage"
    type = "InvalidProtobufMessage"


__all__ = [
    "BBSClientError",
    "BBSConfigError",
    "BBSConnectionError",
    "BBSError",
    "BBSHTTPError",
    "BBSProtocolError",
    "BBSTLSError",
    "BBSTimeoutError",
]
