"""NAB's scoring rules, written from NAB's documentation (Lavin & Ahmad 2015, the NAB wiki).

- The first 15 % of each file (at most 750 records) is probationary: not scored.
- Each labelled window is a true positive at its first detection, worth the scaled sigmoid
  of the detection's relative position, `2 / (1 + e^(5y)) - 1` with y = -1 at the window's
  first record and y → 0 at its last, divided by its value at y = -1 (so the earliest
  detection is worth the profile's TP weight); later detections in the same window count
  nothing. A window without a detection costs the FN weight.
- A detection outside every window is a false positive: worth the FP weight times the
  scaled sigmoid of its distance past the window before it, in that window's widths
  (close behind a window costs little, 3 widths on costs a full -1), or -1 without one.
- One threshold per profile over the whole corpus, chosen to maximise the total; the total
  normalised as 100 · (S - S_null) / (S_perfect - S_null), the null detector detecting
  nothing and the perfect one each window at its first record.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROBATION_FRACTION = 0.15


@dataclass(frozen=True)
class Profile:
    name: str
    tp: float
    fp: float
    fn: float


@dataclass(frozen=True)
class Labelled:
    """One corpus file: its name, values, and windows as (first, last) record indices."""

    name: str
    values: np.ndarray
    windows: tuple[tuple[int, int], ...]

    @property
    def category(self) -> str:
        return self.name.split("/")[0]


def load_profiles(path: Path) -> list[Profile]:
    found = json.loads(path.read_text())
    return [
        Profile(name, m["tpWeight"], m["fpWeight"], m["fnWeight"])
        for name, given in found.items()
        for m in [given["CostMatrix"]]
    ]


def probation_length(records: int) -> int:
    return int(min(math.floor(PROBATION_FRACTION * records), PROBATION_FRACTION * 5000))


def scaled_sigmoid(position: float) -> float:
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def point_values(series: Labelled) -> tuple[np.ndarray, np.ndarray]:
    """For each scored record: the window it lies in (-1: none) and what a detection there
    is worth before weighting (the TP fraction in a window, the FP sigmoid outside)."""
    n = len(series.values)
    window = np.full(n, -1, dtype=np.int64)
    worth = np.full(n, -1.0)
    previous: tuple[int, int] | None = None
    bounds = list(series.windows)
    k = 0
    for i in range(n):
        if k < len(bounds) and bounds[k][0] <= i <= bounds[k][1]:
            first, last = bounds[k]
            window[i] = k
            worth[i] = scaled_sigmoid(-(last - i + 1) / (last - first + 1)) / MAX_TP
            if i == last:
                previous, k = bounds[k], k + 1
        elif previous is not None:
            first, last = previous
            worth[i] = scaled_sigmoid(abs(last - i) / max(last - first, 1))
    return window, worth


def file_score(series: Labelled, detected: np.ndarray, profile: Profile) -> float:
    """One file's raw score for a boolean detection per record."""
    window, worth = point_values(series)
    start = probation_length(len(series.values))
    hits = np.flatnonzero(detected[start:]) + start
    best: dict[int, float] = {}
    total = 0.0
    for i in hits.tolist():
        k = int(window[i])
        if k >= 0:
            best.setdefault(k, float(worth[i]) * profile.tp)  # the first detection counts
        else:
            total += float(worth[i]) * profile.fp
    missed = len(series.windows) - len(best)
    return total + sum(best.values()) - missed * profile.fn


@dataclass(frozen=True)
class Swept:
    threshold: float
    score: float  # normalised, 0 = null detector, 100 = perfect
    raw: float


def sweep(corpus: list[Labelled], scores: list[np.ndarray], profile: Profile) -> Swept:
    """The threshold maximising the corpus's total (every record with a score ≥ it a
    detection), found in one pass over the records sorted by score, highest first."""
    windows_total = sum(len(s.windows) for s in corpus)
    null, perfect = -profile.fn * windows_total, profile.tp * windows_total
    keys, window_ids, worths = [], [], []
    offset = 0
    for series, score in zip(corpus, scores, strict=True):
        window, worth = point_values(series)
        start = probation_length(len(series.values))
        keys.append(score[start:])
        window_ids.append(np.where(window[start:] >= 0, window[start:] + offset, -1))
        worths.append(worth[start:])
        offset += len(series.windows)
    score_all = np.concatenate(keys)
    window_all = np.concatenate(window_ids)
    worth_all = np.concatenate(worths)
    order = np.argsort(-score_all, kind="stable")
    best_in = np.full(windows_total, np.nan)
    raw = null
    best = Swept(math.inf, 0.0, null)
    for rank, i in enumerate(order.tolist()):
        k = int(window_all[i])
        if k >= 0:
            value = float(worth_all[i]) * profile.tp
            if math.isnan(best_in[k]):
                raw += value + profile.fn
                best_in[k] = value
            elif value > best_in[k]:  # an earlier record of a window already detected
                raw += value - best_in[k]
                best_in[k] = value
        else:
            raw += float(worth_all[i]) * profile.fp
        last_of_tie = rank + 1 == len(order) or score_all[order[rank + 1]] != score_all[i]
        if last_of_tie and raw > best.raw:
            best = Swept(float(score_all[i]), 100.0 * (raw - null) / (perfect - null), raw)
    return best


def normalised(corpus: list[Labelled], scores: list[np.ndarray], *, profile: Profile,
               threshold: float) -> float:  # fmt: skip
    """The corpus's normalised score at a given threshold."""
    windows_total = sum(len(s.windows) for s in corpus)
    null, perfect = -profile.fn * windows_total, profile.tp * windows_total
    if windows_total == 0:
        return math.nan
    raw = sum(
        file_score(s, score >= threshold, profile) for s, score in zip(corpus, scores, strict=True)
    )
    return 100.0 * (raw - null) / (perfect - null)


def load_corpus(folder: Path) -> list[Labelled]:
    """The corpus as stored in `folder`: corpus.parquet (file, timestamp, value, in file
    order) and NAB's combined_windows.json."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "corpus.parquet")
    windows = json.loads((folder / "combined_windows.json").read_text())
    corpus = []
    for name in sorted(windows):
        rows = table.filter(pc.equal(table["file"], name))
        stamps = rows["timestamp"].to_numpy().astype("datetime64[us]")
        bounds = []
        for first, last in windows[name]:
            at = np.searchsorted(stamps, np.array([first, last], dtype="datetime64[us]"))
            bounds.append((int(at[0]), int(min(at[1], len(stamps) - 1))))
        corpus.append(Labelled(name, rows["value"].to_numpy(), tuple(bounds)))
    return corpus
