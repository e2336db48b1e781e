"""NAB's scoring rules on hand-worked cases, and the one-pass threshold sweep against scoring
every threshold the slow way."""

from __future__ import annotations

import math

import numpy as np
import pytest
from benchmarks.nab_score import Labelled, Profile, file_score, normalised, sweep
from hypothesis import given, settings
from hypothesis import strategies as st

STANDARD = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
LOW_FN = Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0)
SERIES = Labelled("x/one.csv", np.zeros(2000), ((500, 599),))  # probation: the first 300


def detections(*at: int) -> np.ndarray:
    found = np.zeros(2000, dtype=bool)
    found[list(at)] = True
    return found


def sigmoid(y: float) -> float:
    return 2 / (1 + math.exp(5 * y)) - 1


def test_a_window_is_worth_its_weight_at_its_first_record_and_little_at_its_last() -> None:
    assert file_score(SERIES, detections(500), STANDARD) == pytest.approx(1.0)
    at_last = sigmoid(-1 / 100) / sigmoid(-1)  # 0.0253: found, barely in time
    assert file_score(SERIES, detections(599), STANDARD) == pytest.approx(at_last)
    # Only the first detection in a window counts; later ones are free.
    assert file_score(SERIES, detections(550, 560, 599), STANDARD) == pytest.approx(
        sigmoid(-50 / 100) / sigmoid(-1)
    )


def test_misses_and_false_positives_cost_what_the_profile_says() -> None:
    assert file_score(SERIES, detections(), STANDARD) == -1.0
    assert file_score(SERIES, detections(), LOW_FN) == -2.0
    before_any_window = -1.0 * 0.11
    assert file_score(SERIES, detections(400), STANDARD) == pytest.approx(-1 + before_any_window)
    just_after = sigmoid(101 / 99) * 0.11  # 101 records past a window 100 wide
    assert file_score(SERIES, detections(500, 700), STANDARD) == pytest.approx(1 + just_after)
    far_after = -1.0 * 0.11  # more than 3 widths past it
    assert file_score(SERIES, detections(500, 1900), STANDARD) == pytest.approx(1 + far_after)
    assert file_score(SERIES, detections(100, 299), STANDARD) == -1.0  # probation: not scored


def test_the_sweep_finds_the_best_threshold() -> None:
    scores = np.zeros(2000)
    scores[[520, 1500, 1600]] = [0.9, 0.95, 0.8]
    found = sweep([SERIES], [scores], STANDARD)
    assert found.threshold == 0.9  # the window and one false positive: the best of the three
    tp = sigmoid(-80 / 100) / sigmoid(-1)
    assert found.raw == pytest.approx(tp - 0.11)
    assert found.score == pytest.approx(100 * (tp - 0.11 + 1) / 2)


corpora = st.lists(
    st.tuples(
        st.integers(400, 900),
        st.lists(st.integers(0, 5), min_size=0, max_size=3),
        st.integers(0, 2**31 - 1),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=40, deadline=None)
@given(corpus=corpora)
def test_the_one_pass_sweep_equals_every_threshold_scored_alone(
    corpus: list[tuple[int, list[int], int]],
) -> None:
    files, scores = [], []
    for n, starts, seed in corpus:
        rng = np.random.default_rng(seed)
        bounds = sorted({int(n * (0.2 + 0.13 * k)) for k in starts})
        windows = tuple((b, b + 20) for b in bounds)
        files.append(Labelled(f"c/{seed}.csv", np.zeros(n), windows))
        scores.append(np.round(rng.random(n) ** 8, 2))  # few high scores, many ties
    if not any(f.windows for f in files):
        return
    for profile in (STANDARD, LOW_FN):
        found = sweep(files, scores, profile)
        every = {float(t) for s in scores for t in np.unique(s)}
        slow = max(normalised(files, scores, profile=profile, threshold=t) for t in every)
        assert found.score == pytest.approx(max(slow, 0.0))
        if math.isfinite(found.threshold):
            assert normalised(files, scores, profile=profile, threshold=found.threshold) == (
                pytest.approx(found.score)
            )
