"""Scores against a stream's own past (the NAB benchmark's detector), checked against a
direct computation of what the module says."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlake.monitoring.distance import left_distances
from fleetlake.monitoring.trailing import onsets, scale_scores, trailing_scores


def ratios_by_hand(values: np.ndarray, *, m: int, memory: int) -> list[float]:
    """Each window's left distance over the largest of the `memory` finite ones before it."""
    _, raw = left_distances(values, m=m, flat=1e-6 * float(np.ptp(values)))
    seen: list[float] = []
    out = []
    for d in raw:
        out.append(d / max(seen[-memory:]) if seen and np.isfinite(d) else 0.0)
        if np.isfinite(d):
            seen.append(float(d))
    return out


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), memory=st.integers(5, 60))
def test_scale_one_is_the_distance_over_the_recent_largest(seed: int, memory: int) -> None:
    values = np.cumsum(np.random.default_rng(seed).normal(size=200))
    m = 8
    got = scale_scores(values, m=m, scale=1, memory=memory)
    want = ratios_by_hand(values, m=m, memory=memory)
    assert got[: m - 1].tolist() == [0.0] * (m - 1)
    assert got[m - 1 :] == pytest.approx(want)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.integers(2, 6), extra=st.integers(0, 5))
def test_a_coarse_scale_scores_block_means_and_holds_them(
    seed: int, scale: int, extra: int
) -> None:
    m, memory = 4, 30
    values = np.cumsum(np.random.default_rng(seed).normal(size=scale * 40 + extra))
    got = scale_scores(values, m=m, scale=scale, memory=memory)
    count = values.shape[0] // scale
    blocks = values[: count * scale].reshape(count, scale).mean(axis=1)
    # the block means' own span sets the flat floor in ratios_by_hand; the values' in the
    # module: both are far below these random walks' distances, so they never bite
    want = ratios_by_hand(blocks, m=m, memory=memory)
    for t in range(values.shape[0]):
        window = (t + 1) // scale - m  # the last window whose last block ends at or before t
        expected = want[window] if window >= 0 else 0.0
        assert got[t] == pytest.approx(expected), t


def test_a_score_never_uses_what_comes_after_it() -> None:
    values = np.cumsum(np.random.default_rng(7).normal(size=600))
    changed = values.copy()
    changed[400:] += 50.0
    before, after = trailing_scores(values, m=8), trailing_scores(changed, m=8)
    assert before[:400] == pytest.approx(after[:400])
    assert after[400:420].max() > 1.0 > before[400:420].max()  # the jump is the news


def test_scales_are_combined_by_half_their_mean_and_half_their_largest() -> None:
    values = np.cumsum(np.random.default_rng(3).normal(size=500))
    each = [scale_scores(values, m=8, scale=f, memory=100) for f in (1, 4)]
    got = trailing_scores(values, m=8, memory=100, scales=(1, 4))
    assert got == pytest.approx(0.25 * (each[0] + each[1]) + 0.5 * np.maximum(*each))


def test_an_alarm_counts_once_unless_it_grows() -> None:
    scores = np.array([0, 2, 3, 1, 0, 0, 0, 0, 0, 0, 2, 0])
    assert onsets(scores, quiet=5, rearm=1.0).tolist() == [0, 2, 3, 0, 0, 0, 0, 0, 0, 0, 2, 0]
    assert onsets(scores, quiet=20, rearm=1.0).tolist() == [0, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert onsets(scores, quiet=20, rearm=1.6).tolist() == [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
