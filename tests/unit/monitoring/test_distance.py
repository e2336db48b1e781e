"""The streaming distances against brute force: every window to every reference window,
z-normalised and raw, computed the slow and obvious way."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlake.monitoring.distance import Reference, ab_distances, left_distances

FLAT = 1e-9


def pair(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    m = len(a)
    raw = float(np.linalg.norm(a - b) / np.sqrt(m))
    flat_a, flat_b = a.std() < FLAT, b.std() < FLAT
    if flat_a and flat_b:
        return 0.0, raw
    if flat_a or flat_b:
        return 1.0, raw
    za, zb = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
    return float(np.linalg.norm(za - zb) / np.sqrt(m)), raw


def brute_ab(stream: np.ndarray, reference: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    found = []
    for i in range(len(stream) - m + 1):
        pairs = [pair(stream[i : i + m], reference[j : j + m])
                 for j in range(len(reference) - m + 1)]  # fmt: skip
        found.append((min(p[0] for p in pairs), min(p[1] for p in pairs)))
    return np.array([f[0] for f in found]), np.array([f[1] for f in found])


def brute_left(values: np.ndarray, m: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    z, raw = [], []
    for i in range(len(values) - m + 1):
        pairs = [pair(values[i : i + m], values[j : j + m]) for j in range(0, i - m + 1)]
        zs, raws = sorted(p[0] for p in pairs), sorted(p[1] for p in pairs)
        z.append(zs[k - 1] if len(zs) >= k else np.inf)
        raw.append(raws[k - 1] if len(raws) >= k else np.inf)
    return np.array(z), np.array(raw)


series = st.integers(0, 2**32 - 1).map(lambda seed: np.random.default_rng(seed))


@settings(max_examples=25, deadline=None)
@given(rng=series, m=st.integers(3, 12), cut=st.floats(0.1, 0.9), level=st.floats(-50, 50))
def test_streaming_in_two_parts_equals_brute_force(
    rng: np.random.Generator, m: int, cut: float, level: float
) -> None:
    reference = np.cumsum(rng.normal(size=80)) + 100.0
    stream = np.cumsum(rng.normal(size=60)) + 100.0 + level
    stream[10:20] = stream[10]  # a flat stretch: no shape, still a level
    ref = Reference.of(reference, m=m)
    split = max(m, int(cut * len(stream)))
    z1, raw1, qt = ab_distances(stream[:split], ref, flat=FLAT)
    z2, raw2, _ = ab_distances(stream[split - m :], ref, flat=FLAT, qt=qt)  # the last window again
    want_z, want_raw = brute_ab(stream, reference, m)
    assert np.allclose(np.concatenate((z1, z2)), want_z, atol=1e-7)
    assert np.allclose(np.concatenate((raw1, raw2)), want_raw, atol=1e-7)


def brute_ab_numpy(
    stream: np.ndarray, reference: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """brute_ab with every pair at once: the same definitions, fast enough for long inputs."""
    a = np.lib.stride_tricks.sliding_window_view(stream, m)[:, None, :]
    b = np.lib.stride_tricks.sliding_window_view(reference, m)[None, :, :]
    raw = np.sqrt(((a - b) ** 2).mean(axis=2))
    sd_a, sd_b = a.std(axis=2), b.std(axis=2)
    flat_a, flat_b = sd_a < FLAT, sd_b < FLAT
    za = (a - a.mean(axis=2, keepdims=True)) / np.where(flat_a, 1, sd_a)[..., None]
    zb = (b - b.mean(axis=2, keepdims=True)) / np.where(flat_b, 1, sd_b)[..., None]
    z = np.sqrt(((za - zb) ** 2).mean(axis=2))
    z = np.where(flat_a & flat_b, 0.0, np.where(flat_a | flat_b, 1.0, z))
    return z.min(axis=1), raw.min(axis=1)


@pytest.mark.parametrize("parts", [(1, 100), (40, 33, 27), (70, 30)])
def test_many_windows_against_a_reference_of_many_tiles_equal_brute_force(
    parts: tuple[int, ...],
) -> None:
    from fleetlake.monitoring.distance import STEPS, TILE

    rng = np.random.default_rng(11)
    m = 9
    reference = np.cumsum(rng.normal(size=3 * TILE + 77)) + 50.0
    reference[TILE - 20 : TILE + 30] = 42.0  # flat across a tile's edge
    stream = np.cumsum(rng.normal(size=sum(parts) + m - 1)) + 50.0
    assert sum(parts) > 2 * STEPS  # several sweeps, the last a short one
    ref = Reference.of(reference, m=m)
    zs, raws, qt, at = [], [], None, 0
    for count in parts:  # each call from where the last stopped
        begin = at if qt is None else at - 1
        z, raw, qt = ab_distances(stream[begin : at + count + m - 1], ref, flat=FLAT, qt=qt)
        zs.append(z)
        raws.append(raw)
        at += count
    want_z, want_raw = brute_ab_numpy(stream, reference, m)
    assert np.allclose(np.concatenate(zs), want_z, atol=1e-7)
    assert np.allclose(np.concatenate(raws), want_raw, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(rng=series, m=st.integers(3, 10), k=st.integers(1, 3))
def test_the_left_profile_equals_brute_force(rng: np.random.Generator, m: int, k: int) -> None:
    values = np.cumsum(rng.normal(size=70))
    values[30:40] = 5.0
    z, raw = left_distances(values, m=m, k=k, flat=FLAT)
    want_z, want_raw = brute_left(values, m, k)
    assert np.array_equal(np.isinf(z), np.isinf(want_z))
    finite = np.isfinite(want_z)
    assert np.allclose(z[finite], want_z[finite], atol=1e-7)
    # sqrt(Σa² + Σb² - 2·QT) loses half the digits of identical windows: 1e-7 at this scale
    assert np.allclose(raw[finite], want_raw[finite], atol=1e-6)


def test_a_second_occurrence_hides_behind_the_first_unless_k_is_two() -> None:
    rng = np.random.default_rng(4)
    values = np.sin(2 * np.pi * np.arange(600) / 50) + rng.normal(0, 0.01, 600)
    bump = np.hanning(20) * 3
    values[200:220] += bump
    values[400:420] += bump  # the same anomaly again
    m = 20
    _, raw1 = left_distances(values, m=m, k=1, flat=FLAT)
    _, raw2 = left_distances(values, m=m, k=2, flat=FLAT)
    normal = np.median(raw1[100:190])
    assert raw1[200] > 20 * normal  # the first is a discord either way
    assert raw1[400] < 2 * normal  # the second finds the first
    assert raw2[400] > 20 * normal  # its second-nearest does not


def test_a_level_rise_shows_in_the_raw_distance_only() -> None:
    rng = np.random.default_rng(2)
    baseline = 2.0 + 0.1 * np.sin(np.arange(2000) / 30) + rng.normal(0, 0.01, 2000)
    ref = Reference.of(baseline, m=30)
    shifted = baseline[:300] + 1.5  # the same shapes, 1.5 higher: what a leak does first
    z, raw, _ = ab_distances(shifted, ref, flat=FLAT)
    same_z, same_raw, _ = ab_distances(baseline[1000:1300], ref, flat=FLAT)
    assert np.median(z) < 0.01 and np.median(same_z) < 0.01  # the shapes are all there
    assert raw.min() > 1.2 and same_raw.max() < 0.1


def test_a_reference_shorter_than_a_window_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than m=30"):
        Reference.of(np.zeros(10), m=30)


def test_the_sampled_self_join_equals_stumpys_at_the_windows_it_samples() -> None:
    import stumpy

    from fleetlake.monitoring.distance import sampled_self_distances

    rng = np.random.default_rng(8)
    values = 2 + 0.2 * np.sin(np.arange(3000) / 90) + rng.normal(0, 0.02, 3000)
    values[1200:1260] = 2.5  # a flat stretch: windows without shape
    m, blocks, block = 40, 5, 64
    z, raw = sampled_self_distances(Reference.of(values, m=m), blocks=blocks, block=block,
                                    flat=FLAT)  # fmt: skip
    n = len(values) - m + 1
    starts = np.linspace(0, n - block, blocks).astype(int)
    at = np.concatenate([np.arange(s, s + block) for s in starts])
    exact_z = stumpy.stump(values, m)[at, 0].astype(float) / np.sqrt(m)
    exact_raw = stumpy.aamp(values, m)[at, 0].astype(float) / np.sqrt(m)
    assert np.allclose(raw, exact_raw, atol=1e-6)
    shaped = values[at[:, None] + np.arange(m)].std(axis=1) > 1e-6
    assert np.allclose(z[shaped], exact_z[shaped], atol=1e-5)
