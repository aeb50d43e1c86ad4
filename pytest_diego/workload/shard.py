"""Sharding a workload over xdist workers: deterministic, disjoint, and complete.

Worker ``index`` of ``count`` takes items ``index, index + count, index + 2·count, ...``. The
shares are disjoint and together are exactly the workload, in every worker the same way, with
no coordination. Striding (rather than cutting contiguous blocks) keeps each worker's share of
an open-model schedule spread over the whole run, so the merged arrivals are the global plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def check_shard(index: int, count: int) -> None:
    if count < 1:
        raise ValueError(f"worker count must be at least 1, got {count}")
    if not 0 <= index < count:
        raise ValueError(f"worker index {index} is outside 0..{count - 1}")


def owns(op_index: int, index: int, count: int) -> bool:
    """Whether worker ``index`` of ``count`` runs operation ``op_index``."""
    return op_index % count == index


def shard(items: Sequence[T], index: int, count: int) -> list[T]:
    """Worker ``index``'s share of ``items`` (of ``count`` workers)."""
    check_shard(index, count)
    return list(items[index::count])
