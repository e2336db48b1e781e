"""Range arithmetic on h3 indexes used by the boundary checks."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fleetlake.trips.cells import intersect_ranges


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
