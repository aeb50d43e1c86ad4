"""Locket's wire models under Locket's names, its constants, and its rules for resource types.

Generated from ``pytest_diego/locket/proto/locket.proto`` (proto package ``models``, Locket's field
numbers). A resource's type travels twice: ``type_code`` (the enum, what Locket validates) and the
deprecated ``type`` string (what Locket stores and filters on); :func:`normalized` derives one from
the other exactly as Locket does before storing.
"""

from __future__ import annotations

import grpc

from pytest_diego.locket._pb.locket_pb2 import (
    LOCK,
    PRESENCE,
    UNKNOWN,
    FetchAllRequest,
    FetchAllResponse,
    FetchRequest,
    FetchResponse,
    LockRequest,
    LockResponse,
    ReleaseRequest,
    ReleaseResponse,
    Resource,
    TypeCode,
)

LOCK_TYPE = "lock"
PRESENCE_TYPE = "presence"

DEFAULT_SESSION_TTL = 15
"""Seconds: the TTL Diego's rep, BBS, auctioneer and route emitter ask for (locket.DefaultSessionTTL)."""
RETRY_INTERVAL = 5.0
"""Seconds between a holder's refreshes (locket.RetryInterval)."""
DEFAULT_PORT = 8891

_TYPE_OF_CODE: dict[int, str] = {LOCK: LOCK_TYPE, PRESENCE: PRESENCE_TYPE}
_CODE_OF_TYPE = {LOCK_TYPE: LOCK, PRESENCE_TYPE: PRESENCE}


def type_code_of(type_name: str) -> TypeCode:
    """``"lock"`` -> LOCK, ``"presence"`` -> PRESENCE, anything else -> UNKNOWN (Locket's GetTypeCode)."""
    return _CODE_OF_TYPE.get(type_name, UNKNOWN)


def type_of(type_code: int, fallback: str = "") -> str:
    """The type string of a known code, else ``fallback`` (Locket's GetType)."""
    return _TYPE_OF_CODE.get(type_code, fallback)


def is_valid_type_code(type_code: int) -> bool:
    """What Locket's handler accepts in Lock and FetchAll: LOCK or PRESENCE, never UNKNOWN."""
    return type_code in _TYPE_OF_CODE


def normalized(resource: Resource) -> Resource:
    """The resource as Locket stores it: a known type_code wins and sets ``type``; with UNKNOWN,
    the code comes from ``type`` (Locket's GetResource)."""
    if resource.type_code == UNKNOWN:
        return Resource(key=resource.key, owner=resource.owner, value=resource.value,
                        type=resource.type, type_code=type_code_of(resource.type))
    return Resource(key=resource.key, owner=resource.owner, value=resource.value,
                    type=type_of(resource.type_code, resource.type), type_code=resource.type_code)


class LocketStatus:
    """One of Locket's gRPC errors: the status code and the exact message its server sends."""

    __slots__ = ("code", "message")

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"LocketStatus({self.code.name}, {self.message!r})"


# Locket's models.Err* values (models/models.go).
LOCK_COLLISION = LocketStatus(grpc.StatusCode.ALREADY_EXISTS, "lock-collision")
INVALID_TTL = LocketStatus(grpc.StatusCode.INVALID_ARGUMENT, "invalid-ttl")
INVALID_OWNER = LocketStatus(grpc.StatusCode.INVALID_ARGUMENT, "invalid-owner")
RESOURCE_NOT_FOUND = LocketStatus(grpc.StatusCode.NOT_FOUND, "resource-not-found")
INVALID_TYPE = LocketStatus(grpc.StatusCode.NOT_FOUND, "invalid-type")  # NotFound, as Locket has it
STATUSES = (LOCK_COLLISION, INVALID_TTL, INVALID_OWNER, RESOURCE_NOT_FOUND, INVALID_TYPE)

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_SESSION_TTL",
    "INVALID_OWNER",
    "INVALID_TTL",
    "INVALID_TYPE",
    "LOCK",
    "LOCK_COLLISION",
    "LOCK_TYPE",
    "PRESENCE",
    "PRESENCE_TYPE",
    "RESOURCE_NOT_FOUND",
    "RETRY_INTERVAL",
    "STATUSES",
    "UNKNOWN",
    "FetchAllRequest",
    "FetchAllResponse",
    "FetchRequest",
    "FetchResponse",
    "LockRequest",
    "LockResponse",
    "LocketStatus",
    "ReleaseRequest",
    "ReleaseResponse",
    "Resource",
    "TypeCode",
    "is_valid_type_code",
    "normalized",
    "type_code_of",
    "type_of",
]
