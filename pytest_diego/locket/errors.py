"""Errors raised by ``LocketClient``.

``LocketError`` and its subclasses are Locket's own answers (a gRPC status with Locket's message,
e.g. ALREADY_EXISTS ``lock-collision``). Every other error is about reaching Locket at all; each
names the address and says what to check. ``outcome`` is a short name for counting failures.
"""

from __future__ import annotations

import grpc

from pytest_diego.client_error import ClientError
from pytest_diego.locket import models


class LocketClientError(ClientError):
    """Base of every error raised by ``LocketClient``."""

    def __init__(self, message: str, *, address: str = "") -> None:
        super().__init__(message)
        self.address = address


class LocketConfigError(LocketClientError, ValueError):
    """The client was configured wrongly (bad address, missing or unreadable certificate files)."""

    outcome = "ConfigError"


class LocketConnectionError(LocketClientError):
    """Locket could not be reached, or dropped the connection."""

    outcome = "ConnectionError"


class LocketTimeoutError(LocketClientError):
    """Locket did not answer within the client's timeout."""

    outcome = "Timeout"


class LocketTLSError(LocketClientError):
    """The TLS handshake failed: Locket's certificate is not trusted, or ours was refused."""

    outcome = "TLSError"


class LocketError(LocketClientError):
    """A gRPC status Locket answered with; ``code`` and ``locket_message`` as Locket sent them."""

    status: models.LocketStatus | None = None
    hint = ""

    def __init__(self, message: str, *, address: str = "", code: grpc.StatusCode = grpc.StatusCode.UNKNOWN,
                 locket_message: str = "") -> None:
        super().__init__(message, address=address)
        self.code = code
        self.locket_message = locket_message
        self.outcome = locket_message or code.name


class LockCollisionError(LocketError):
    status = models.LOCK_COLLISION
    hint = "another owner holds it; only that owner can refresh or release it until its TTL runs out"


class ResourceNotFoundError(LocketError):
    status = models.RESOURCE_NOT_FOUND
    hint = "nothing holds that key: it was never locked, was released, or expired after its TTL"


class InvalidTTLError(LocketError):
    status = models.INVALID_TTL
    hint = "ttl_in_seconds must be greater than 0"


class InvalidOwnerError(LocketError):
    status = models.INVALID_OWNER
    hint = "the owner must not be empty"


class InvalidTypeError(LocketError):
    status = models.INVALID_TYPE
    hint = "type_code must be LOCK (1) or PRESENCE (2)"


_IN_BAND: dict[tuple[grpc.StatusCode, str], type[LocketError]] = {
    (cls.status.code, cls.status.message): cls
    for cls in (LockCollisionError, ResourceNotFoundError, InvalidTTLError, InvalidOwnerError,
                InvalidTypeError)
    if cls.status is not None
}

_TLS_UNTRUSTED = "CERTIFICATE_VERIFY_FAILED"
_NOT_TLS = "WRONG_VERSION_NUMBER"
_CLOSED = "Socket closed"


def error_from_rpc(error: grpc.RpcError, *, address: str, what: str, tls: bool,
                   timeout: float) -> LocketClientError:
    """Turn a failed call into the error that says what happened and what to check.

    ``what`` names the call, e.g. ``"Lock of 'cell-1'"``.
    """
    # a failed call's error is also a grpc.Call, which carries the status
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = (error.details() if hasattr(error, "details") else str(error)) or ""
    in_band = _IN_BAND.get((code, details))
    if in_band is not None:
        return in_band(f"{what} refused by Locket at {address}: {details} ({in_band.hint})",
                       address=address, code=code, locket_message=details)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return LocketTimeoutError(
            f"{what}: Locket at {address} did not answer within {timeout:g} s; is it overloaded or "
            "stopped (SIGSTOP)? raise the client timeout if it is only slow", address=address)
    if code == grpc.StatusCode.UNAVAILABLE:
        return _unavailable(details, address=address, what=what, tls=tls)
    return LocketError(f"{what} failed at Locket {address}: {code.name}: {details}", address=address,
                       code=code, locket_message=details)


def _unavailable(details: str, *, address: str, what: str, tls: bool) -> LocketClientError:
    """gRPC reports every failure to connect as UNAVAILABLE; the details tell which one it was."""
    prefix = f"{what}: TLS handshake with Locket at {address} failed"
    if tls and _TLS_UNTRUSTED in details:
        return LocketTLSError(
            f"{prefix}: its certificate is not trusted by ca_file or does not name "
            f"{address.rpartition(':')[0]} (check ca_file, or give server_name): {details}", address=address)
    if tls and _NOT_TLS in details:
        return LocketTLSError(
            f"{prefix}: it does not speak TLS; drop ca_file/cert_file/key_file or start Locket with "
            f"TLS: {details}", address=address)
    if tls and _CLOSED in details:
        return LocketTLSError(
            f"{prefix}: it closed the connection, which is how it refuses a client certificate (check "
            f"cert_file/key_file: a client certificate signed by the CA Locket trusts): {details}",
            address=address)
    hint = ("if it requires TLS, give ca_file, cert_file and key_file" if not tls and _CLOSED in details
            else "is it running? check the address")
    return LocketConnectionError(f"{what}: cannot reach Locket at {address}: {details}; {hint}",
                                 address=address)


__all__ = [
    "InvalidOwnerError",
    "InvalidTTLError",
    "InvalidTypeError",
    "LockCollisionError",
    "LocketClientError",
    "LocketConfigError",
    "LocketConnectionError",
    "LocketError",
    "LocketTLSError",
    "LocketTimeoutError",
    "ResourceNotFoundError",
    "error_from_rpc",
]
