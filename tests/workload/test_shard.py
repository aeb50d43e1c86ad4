"""Sharding: deterministic, disjoint, and together exactly the workload."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_diego.workload import owns, shard


@given(st.lists(st.integers(), max_size=200), st.integers(1, 16))
def test_shares_partition_the_workload_exactly(items, count):
    shares = [shard(items, index, count) for index in range(count)]
    assert sorted(x for s in shares for x in s) == sorted(items)
    positions = [set(range(len(items))[index::count]) for index in range(count)]
    assert sum(len(p) for p in positions) == len(items)
    assert all(shard(items, i, count) == shares[i] for i in range(count))  # deterministic
    assert all(owns(op, op % count, count) for op in range(len(items)))


def test_bad_worker_index_or_count():
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        shard([1], 3, 3)
    with pytest.raises(ValueError, match="at least 1"):
        shard([1], 0, 0)
