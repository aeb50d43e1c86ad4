"""Protobuf's wire format built by hand, for bytes no message object makes: list responses
assembled from stored records, and the malformed bodies the fuzzers send."""

from __future__ import annotations


def varint(value: int) -> bytes:
    """``value`` as a base-128 varint; a negative one as protobuf writes int64, ten bytes."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)
