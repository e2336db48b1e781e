"""Scores, levels and intervals of the detector, on series whose answer is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlake.monitoring.detector import (
    Baseline,
    Hysteresis,
    SensorScorer,
    Thresholds,
    intervals,
    running_median,
)

M = 24


def gas(n: int, *, seed: int, start: int = 0) -> np.ndarray:
    """A quiet methane sensor: 2 ppmv, a tide (12.4 h at one reading a minute) and noise."""
    t = np.arange(start, start + n)
    rng = np.random.default_rng(seed)
    return 2.0 + 0.2 * np.sin(2 * np.pi * t / 744) + rng.normal(0, 0.02, n)


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return Baseline.fit(gas(3000, seed=1), m=M, min_spread=0.005)


@pytest.fixture(scope="module")
def despiked() -> Baseline:
    return Baseline.fit(gas(3000, seed=1), m=M, min_spread=0.005, despike=5)


def test_the_running_median_drops_short_spikes_and_passes_a_step_late() -> None:
    spikes = np.array([1.0, 1, 1, 9, 1, 1, 1, 1, 9, 9, 1, 1, 1])
    assert running_median(spikes, k=5).tolist() == [1.0] * 13  # spikes of one and two
    step = np.array([1.0, 1, 1, 1, 5, 5, 5, 5])
    assert running_median(step, k=5).tolist() == [1, 1, 1, 1, 1, 1, 5, 5]  # two readings late
    carried = running_median(np.array([5.0, 5]), k=5, before=np.array([1.0, 1, 1, 1, 5, 5]))
    assert carried.tolist() == [5, 5] and running_median(step, k=1) is step


def test_glitches_raise_no_level_once_despiked(baseline: Baseline, despiked: Baseline) -> None:
    day = gas(1440, seed=5, start=3000)
    day[[100, 400, 401, 900, 1300]] += 1.5  # five glitches of a reading or two
    _, plain = SensorScorer.resume(baseline, Thresholds(), None).push(day)
    _, cleaned = SensorScorer.resume(despiked, Thresholds(), None).push(day)
    assert plain.max() == 2 and cleaned.max() == 0


def test_hysteresis_rises_at_once_and_falls_only_after_a_calm_stretch() -> None:
    h = Hysteresis(Thresholds(warning_spreads=4, critical_spreads=8, clear_ratio=0.5,
                              clear_after=3))  # fmt: skip
    scores = [1, 5, 9, 7, 3, 3, 3, 3, 3.9, 1, 1, 1]
    # 9 is critical; 7, 3, 3 are below 8 but not calm long enough (3 < 0.5 x 8 from the 5th);
    # after three calm readings it falls to what 3 says (ok is below 4), then stays ok.
    assert [h.step(s) for s in scores] == [0, 1, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0]
    # Clearing at 0.7 x 8 = 5.6, a critical stretch can settle at warning (5 is one).
    h = Hysteresis(Thresholds(warning_spreads=4, critical_spreads=8, clear_ratio=0.7,
                              clear_after=2))  # fmt: skip
    assert [h.step(s) for s in [9, 5, 5, 5, 1, 1, 1]] == [2, 2, 1, 1, 1, 0, 0]


def test_a_quiet_day_stays_ok_and_a_leak_goes_critical(baseline: Baseline) -> None:
    scorer = SensorScorer.resume(baseline, Thresholds(), None)
    quiet = gas(1440, seed=2, start=3000)
    scores, levels = scorer.push(quiet)
    assert levels.max() == 0 and scores.max() < Thresholds().warning_spreads
    rise = 1.0 - np.exp(-np.arange(120) / 20.0)  # a leak filling the template: +1 ppmv
    leak = gas(120, seed=3, start=4440) + rise
    scores, levels = scorer.push(leak)
    first = int(np.argmax(levels == 2))
    assert levels[-1] == 2 and 0 < first < 30  # within half an hour of a minute a reading


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(1, 300), min_size=1, max_size=6), resume_at=st.integers(0, 5),
       despike=st.booleans())  # fmt: skip
def test_scoring_in_any_chunks_or_across_a_restart_equals_one_pass(
    baseline: Baseline, despiked: Baseline, cuts: list[int], resume_at: int, despike: bool
) -> None:
    baseline = despiked if despike else baseline
    values = gas(400, seed=4, start=3000)
    values[200:260] += 0.8  # something to raise a level
    whole = SensorScorer.resume(baseline, Thresholds(), None).push(values)
    scorer = SensorScorer.resume(baseline, Thresholds(), None)
    parts, at = [], 0
    for k, size in enumerate([*cuts, len(values)]):
        if k == resume_at:  # a restart: only the saved state goes on
            scorer = SensorScorer.resume(baseline, Thresholds(), scorer.state())
        parts.append(scorer.push(values[at : at + size]))
        at += size
        if at >= len(values):
            break
    assert np.allclose(np.concatenate([p[0] for p in parts]), whole[0], atol=1e-6)
    assert np.array_equal(np.concatenate([p[1] for p in parts]), whole[1])


def test_a_baseline_too_short_or_broken_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 96 finite readings"):
        Baseline.fit(np.ones(50), m=M, min_spread=0.01)
    broken = gas(500, seed=1)
    broken[7] = np.nan
    with pytest.raises(ValueError, match="finite"):
        Baseline.fit(broken, m=M, min_spread=0.01)


def test_levels_become_intervals() -> None:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    times = [t0 + timedelta(minutes=k) for k in range(6)]
    found = intervals(times, np.array([0, 0, 1, 2, 2, 0]), np.array([1, 2, 5, 9, 8, 0.0]))
    assert [(d.start.minute, d.end.minute, d.level, d.score) for d in found] == [
        (0, 1, "ok", 2.0), (2, 2, "warning", 5.0), (3, 4, "critical", 9.0), (5, 5, "ok", 0.0),
    ]  # fmt: skip
