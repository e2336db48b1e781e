"""The small kernels against numpy's own answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fleetlake.monitoring.reductions import sliding_medians

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(values=arrays(np.float64, st.integers(0, 40), elements=finite), k=st.integers(1, 8))
def test_sliding_medians_are_numpys(values: np.ndarray, k: int) -> None:
    got = sliding_medians(values, k)
    if values.shape[0] < k:
        assert got.shape == (0,)
        return
    want = np.median(np.lib.stride_tricks.sliding_window_view(values, k), axis=1)
    assert got == pytest.approx(want)


def test_a_window_of_the_reference_is_found_at_distance_zero() -> None:
    from fleetlake.monitoring.distance import Reference, ab_distances

    # the kernel's fmax/fmin decide the nearest window: a known nearest one must be found
    rng = np.random.default_rng(5)
    reference = rng.normal(size=3000)
    ref = Reference.of(reference, m=16)
    z, raw, _ = ab_distances(reference[1234:1260], ref, flat=1e-9)
    assert np.allclose(raw, 0.0, atol=1e-6) and np.allclose(z, 0.0, atol=1e-6)
