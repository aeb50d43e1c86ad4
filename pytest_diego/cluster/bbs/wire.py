"""Encoding list responses straight from stored record bytes.

A list response (``ActualLRPsResponse``, ``TasksResponse``, ...) is its repeated field 2 of
records; each record's serialized bytes are already kept beside it, so the response is the
concatenation of (tag, length, bytes) with no protobuf object built or re-encoded.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_diego.bbs.wire import varint


def repeated(field_number: int, blobs: Iterable[bytes]) -> bytes:
    """Wire bytes of ``repeated <message> <field> = field_number`` holding ``blobs``."""
    tag = varint(field_number << 3 | 2)
    parts = []
    for blob in blobs:
        parts.append(tag)
        parts.append(varint(len(blob)))
        parts.append(blob)
    return b"".join(parts)
