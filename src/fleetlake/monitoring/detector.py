"""A sensor's readings scored against its baseline, and the levels those scores raise.

A baseline is a stretch of the sensor's normal readings (by default its first 7 days). Its
own matrix profile (each window's distance to its nearest other window, stumpy's self-join,
z-normalised and raw) says how far normal windows lie from normal windows: its median and
spread (1.4826 x MAD, floored). A new window's score is how many spreads its distance to the
baseline (`distance.ab_distances`) lies above that median, the larger of the z (shape) and
raw (level) scores. Levels follow the score with hysteresis: up at once when it crosses
`warning_spreads` or `critical_spreads`, down only after `clear_after` readings in a row
below `clear_ratio` of the level's threshold, so a level does not flap. Readings are first
despiked, baseline and stream alike: each becomes the median of it and the `despike - 1`
before it (causal), so a spike of one or two readings — a sensor glitch, not a leak — never
reaches the windows, while a step (a leak's rise) passes after `despike // 2` readings.

Streams without a fixed baseline (the NAB benchmark) are scored by `trailing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from fleetlake.monitoring.distance import (
    Reference,
    ab_distances,
    sampled_self_distances,
)
from fleetlake.monitoring.reductions import sliding_medians

LEVELS = ("ok", "warning", "critical")
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Thresholds:
    warning_spreads: float = 4.0
    critical_spreads: float = 8.0
    clear_ratio: float = 0.7
    clear_after: int = 5

    def of(self, level: int) -> float:
        return (0.0, self.warning_spreads, self.critical_spreads)[level]


@dataclass(frozen=True)
class Baseline:
    """A baseline ready to score against: the reference windows and their own spread."""

    reference: Reference
    z_median: float
    z_spread: float
    raw_median: float
    raw_spread: float
    flat: float  # a window with a smaller standard deviation has no shape
    despike: int = 1  # readings in the causal running median (1: none)

    @classmethod
    def fit(cls, values: np.ndarray, *, m: int, min_spread: float, despike: int = 1) -> Baseline:
        """`min_spread`: the smallest raw spread believed (the sensor's resolution), so a
        perfectly quiet baseline does not make every wiggle an alarm."""
        values = running_median(np.asarray(values, dtype=np.float64), k=despike)
        if values.shape[0] < 4 * m or not np.isfinite(values).all():
            raise ValueError(
                f"a baseline needs at least {4 * m} finite readings (4 windows), "
                f"got {values.shape[0]}: choose a longer baseline"
            )
        flat = max(1e-9, 1e-6 * float(np.ptp(values)))
        reference = Reference.of(values, m=m)
        z_self, raw_self = self_join(reference, flat=flat)
        z_median, z_spread = spread_of(z_self, floor=0.02)
        raw_median, raw_spread = spread_of(raw_self, floor=min_spread)
        return cls(reference, z_median, z_spread, raw_median, raw_spread, flat,
                   despike)  # fmt: skip

    def stats(self) -> dict[str, Any]:
        """What `restored` needs besides the readings: the self-join's outcome."""
        return {"m": self.m, "despike": self.despike, "z_median": self.z_median,
                "z_spread": self.z_spread, "raw_median": self.raw_median,
                "raw_spread": self.raw_spread, "flat": self.flat}  # fmt: skip

    @classmethod
    def restored(cls, values: np.ndarray, stats: dict[str, Any]) -> Baseline:
        """The baseline `fit` gave for these readings, from its `stats()`: the reference is
        rebuilt (a pass over the readings), the self-join (the costly part) is not."""
        despike, m = int(stats["despike"]), int(stats["m"])
        values = running_median(np.asarray(values, dtype=np.float64), k=despike)
        return cls(Reference.of(values, m=m), float(stats["z_median"]), float(stats["z_spread"]),
                   float(stats["raw_median"]), float(stats["raw_spread"]), float(stats["flat"]),
                   despike)  # fmt: skip

    @property
    def m(self) -> int:
        return self.reference.m

    def scores(self, z: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Spreads above normal, the larger of shape and level; never below 0."""
        by_shape = (z - self.z_median) / self.z_spread
        by_level = (raw - self.raw_median) / self.raw_spread
        return np.maximum(np.maximum(by_shape, by_level), 0.0)


def running_median(values: np.ndarray, *, k: int, before: np.ndarray | None = None) -> np.ndarray:
    """Each value as the median of it and the k - 1 readings before it (`before` carries
    them across calls; missing ones repeat the first value known)."""
    if k <= 1 or values.shape[0] == 0:
        return values
    history = before[-(k - 1) :] if before is not None else np.zeros(0)
    pad = np.full(k - 1 - history.shape[0], history[0] if history.shape[0] else values[0])
    joined = np.concatenate((pad, history, values))
    found: np.ndarray = sliding_medians(joined, k)
    return found


EXACT_SELF_JOIN_MAX = 20_000  # readings: beyond, the self-join is sampled (O(n²) otherwise)
SAMPLED_BLOCKS, SAMPLED_BLOCK = 16, 256


def self_join(reference: Reference, *, flat: float) -> tuple[np.ndarray, np.ndarray]:
    """The baseline's matrix profile, z-normalised and raw, per value: with stumpy up to
    EXACT_SELF_JOIN_MAX readings (two weeks at a minute), sampled beyond (a week at 10 s is
    60,480 readings: 45 s with stumpy, well under a second sampled)."""
    values, m = reference.values, reference.m  # centred: no distance moves
    if values.shape[0] > EXACT_SELF_JOIN_MAX:
        return sampled_self_distances(reference, blocks=SAMPLED_BLOCKS, block=SAMPLED_BLOCK,
                                      flat=flat)  # fmt: skip
    from fleetlake.platform.numba_cache import stumpy_cached

    stumpy_cached()
    import stumpy

    z = stumpy.stump(values, m)[:, 0].astype(np.float64) / np.sqrt(m)
    raw = stumpy.aamp(values, m)[:, 0].astype(np.float64) / np.sqrt(m)
    return z, raw


def spread_of(distances: np.ndarray, *, floor: float) -> tuple[float, float]:
    finite = distances[np.isfinite(distances)]
    median = float(np.median(finite))
    mad = float(np.median(np.abs(finite - median)))
    return median, max(MAD_TO_SIGMA * mad, 0.1 * median, floor)


@dataclass
class Hysteresis:
    thresholds: Thresholds
    level: int = 0
    calm: int = 0  # readings in a row below the level's clearing point

    def step(self, score: float) -> int:
        t = self.thresholds
        wanted = 2 if score >= t.critical_spreads else 1 if score >= t.warning_spreads else 0
        if wanted >= self.level:
            self.level, self.calm = wanted, 0
            return self.level
        self.calm = self.calm + 1 if score < t.clear_ratio * t.of(self.level) else 0
        if self.calm >= t.clear_after:
            self.level, self.calm = wanted, 0
        return self.level


@dataclass
class SensorScorer:
    """One sensor scored reading by reading: its last window and dot products carried, so a
    reading costs one pass over the baseline, never the history."""

    baseline: Baseline
    hysteresis: Hysteresis
    tail: np.ndarray = field(default_factory=lambda: np.zeros(0))
    qt: np.ndarray | None = None
    recent: np.ndarray = field(default_factory=lambda: np.zeros(0))  # raw, for despiking

    def push(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores and levels for each of `values` (a reading before the first full window
        scores 0 and keeps the level)."""
        m = self.baseline.m
        raw_values = np.asarray(values, dtype=np.float64)
        values = running_median(raw_values, k=self.baseline.despike, before=self.recent)
        keep = max(self.baseline.despike - 1, 0)
        self.recent = np.concatenate((self.recent, raw_values))[-keep:] if keep else self.recent
        joined = np.concatenate((self.tail, values))
        scores = np.zeros(values.shape[0])
        if joined.shape[0] >= m:  # with qt, the tail is the window scored last
            z, raw, self.qt = ab_distances(joined, self.baseline.reference,
                                           flat=self.baseline.flat, qt=self.qt)  # fmt: skip
            found = self.baseline.scores(z, raw)
            scores[values.shape[0] - found.shape[0] :] = found
        self.tail = joined[-m:]
        levels = np.array([self.hysteresis.step(float(s)) for s in scores], dtype=np.int8)
        return scores, levels

    def state(self) -> dict[str, Any]:
        """What a restart needs (the dot products are recomputed from the tail)."""
        h = self.hysteresis
        return {"tail": self.tail.tolist(), "level": h.level, "calm": h.calm,
                "recent": self.recent.tolist()}  # fmt: skip

    @classmethod
    def resume(
        cls, baseline: Baseline, thresholds: Thresholds, state: dict[str, Any] | None
    ) -> SensorScorer:
        if not state:
            return cls(baseline, Hysteresis(thresholds))
        tail = np.asarray(state["tail"], dtype=np.float64)
        recent = np.asarray(state.get("recent", []), dtype=np.float64)
        hysteresis = Hysteresis(thresholds, state["level"], state["calm"])
        scorer = cls(baseline, hysteresis, tail, recent=recent)
        if tail.shape[0] == baseline.m:
            scorer.qt = baseline.reference.first_row(tail - baseline.reference.center)
        return scorer


@dataclass(frozen=True)
class Deviation:
    start: datetime
    end: datetime
    level: str
    score: float  # the highest in the interval


def intervals(times: list[datetime], levels: np.ndarray, scores: np.ndarray) -> list[Deviation]:
    """Runs of one level as intervals: first and last reading at it, its highest score."""
    found: list[Deviation] = []
    start = 0
    for i in range(1, len(times) + 1):
        if i == len(times) or levels[i] != levels[start]:
            peak = float(np.max(scores[start:i]))
            found.append(Deviation(times[start], times[i - 1], LEVELS[levels[start]], peak))
            start = i
    return found
