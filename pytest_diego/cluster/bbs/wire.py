"""Encoding list responses straight from stored record bytes.

A list response (``ActualLRPsResponse``, ``TasksResponse``, ...) is its repeated field 2 of
records; each record's serialized bytes are already kept beside it, so the response is the
concatenation of (tag, length, bytes) with no protobuf object built or re-encoded.
"""

from __future__ import annotations

from collections.abc import Iterable


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def repeated(field_number: int, blobs: Iterable[bytes]) -> bytes:
    """Wire bytes of ``repeated <message> <field> = field_number`` holding ``blobs``."""
    tag = _varint(field_number << 3 | 2)
    parts = []
    for blob in blobs:
        parts.append(tag)
        parts.append(_varint(len(blob)))
        parts.append(blob)
    return b"".join(parts)
