"""Range arithmetic on h3 indexes used by the boundary checks."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fleetlake.trips.cells import in_sorted, intersect_ranges


def _disjoint_ranges(points: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct points paired up: [p0, p1], [p2, p3], ... (disjoint, inclusive)."""
    ordered = sorted(set(points))
    ordered = ordered[: len(ordered) // 2 * 2]
    return np.array(ordered[0::2], dtype=np.int64), np.array(ordered[1::2], dtype=np.int64)


def _members(ranges: tuple[np.ndarray, np.ndarray]) -> set[int]:
    return {v for low, high in zip(*ranges, strict=True) for v in range(int(low), int(high) + 1)}


@given(
    st.lists(st.integers(0, 200), max_size=30),
    st.lists(st.integers(0, 200), max_size=30),
)
def test_intersection_holds_exactly_the_common_values_as_sorted_disjoint_ranges(
    a: list[int], b: list[int]
) -> None:
    first, second = _disjoint_ranges(a), _disjoint_ranges(b)
    low, high = intersect_ranges(first, second)
    assert _members((low, high)) == _members(first) & _members(second)
    assert np.all(low <= high)
    assert np.all(high[:-1] < low[1:])  # sorted and disjoint


INT64 = st.integers(-(2**63), 2**63 - 1)


@given(
    st.lists(INT64, max_size=150, unique=True),
    st.lists(INT64, max_size=200),
    st.lists(st.integers(0, 1000), max_size=50),
)
def test_membership_equals_a_set_lookup_for_small_and_large_key_sets(
    keys: list[int], others: list[int], picks: list[int]
) -> None:
    """Small key sets take the hash table, larger ones the binary search: same answers,
    for keys anywhere in int64 (h3 cells and pair keys included) and values in or out."""
    members = [keys[i % len(keys)] for i in picks] if keys else []
    values = np.array(others + members, dtype=np.int64)
    found = in_sorted(values, np.array(sorted(keys), dtype=np.int64))
    assert found.tolist() == [v in set(keys) for v in values.tolist()]
