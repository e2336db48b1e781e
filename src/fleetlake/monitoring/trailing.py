"""Scores for streams without a fixed baseline, whose normal moves (the NAB benchmark).

The reference is the stream's own past: each window's raw distance to its nearest earlier
window (the left matrix profile), over the largest such distance of its last `memory`
windows — above 1, farther from the past than anything lately. The same is done on the
stream's block means at coarser `scales` (blocks of 4, 16, 64 readings by default), so a
slow change of shape or density stands out where single readings only look noisy. A
coarse score holds from its block's last reading until the next block ends (nothing from
the future). A reading's score is half the mean and half the largest of its scales' scores:
an anomaly seen at several scales at once gains, a spike seen at one alone keeps its own.
`onsets` then keeps an alarm at its start (NAB counts every reading above the threshold).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from fleetlake.monitoring.distance import left_distances

SCALES = (1, 4, 16, 64)


def ratio_to_recent_largest(distances: np.ndarray, *, memory: int) -> np.ndarray:
    """Each finite distance over the largest of the `memory` finite ones before it; 0 for the
    first and for non-finite ones."""
    scores = np.zeros(distances.shape[0])
    recent: deque[float] = deque()
    peaks: deque[float] = deque()  # decreasing: the running max of `recent`
    for i, d in enumerate(distances.tolist()):
        if not np.isfinite(d):
            continue
        if peaks:
            scores[i] = d / max(peaks[0], 1e-12)
        recent.append(d)
        while peaks and peaks[-1] < d:
            peaks.pop()
        peaks.append(d)
        if len(recent) > memory and recent.popleft() == peaks[0]:
            peaks.popleft()
    return scores


def scale_scores(values: np.ndarray, *, m: int, scale: int, memory: int, k: int = 1) -> np.ndarray:
    """One scale's score per reading: the left-profile ratio of the block means (blocks of
    `scale` readings from the first), held from each block window's last reading on. k > 1
    takes the k-th nearest earlier window, so a second like anomaly is not hidden by the first."""
    values = np.asarray(values, dtype=np.float64)
    blocks = values.shape[0] // scale
    means = values[: blocks * scale].reshape(blocks, scale).mean(axis=1)
    span = float(np.ptp(values)) or 1.0
    _, raw = left_distances(means, m=m, k=k, flat=1e-6 * span)
    ratios = ratio_to_recent_largest(raw, memory=memory)
    held = np.zeros(values.shape[0])
    ends = (np.arange(ratios.shape[0]) + m) * scale - 1  # each window's last reading
    held[ends] = ratios
    marks = np.zeros(values.shape[0], dtype=np.int64)
    marks[ends] = ends
    return held[np.maximum.accumulate(marks)]  # forward-filled from each window's end


def trailing_scores(
    values: np.ndarray,
    *,
    m: int,
    memory: int = 1000,
    k: int = 1,
    scales: tuple[int, ...] = SCALES,
) -> np.ndarray:
    """The stream's score per reading against its own past, over `scales` (see the module);
    readings before a scale's first complete window score 0 there."""
    values = np.asarray(values, dtype=np.float64)
    each = np.stack([scale_scores(values, m=m, scale=f, memory=memory, k=k) for f in scales])
    combined: np.ndarray = 0.5 * each.mean(axis=0) + 0.5 * each.max(axis=0)
    return combined


def onsets(scores: np.ndarray, *, quiet: int, rearm: float = 1.2) -> np.ndarray:
    """An alarm's first moment: a score kept where it is the first after `quiet` readings
    without one kept, or tops the last kept one `rearm` times; the rest are 0."""
    kept = np.zeros_like(scores)
    last, last_value = -(10**9), 0.0
    for t, value in enumerate(scores.tolist()):
        if value <= 0:
            continue
        if t - last > quiet or value > rearm * last_value:
            kept[t] = value
            last, last_value = t, value
    return kept
