"""Distances of a stream's subsequences to a reference's, the matrix profile's raw material.

For each window of `m` values of the stream: its distance to the nearest (or k-th nearest)
window of the reference, z-normalised (a change of shape) and not (a change of level, which
z-normalisation hides: stumpy #212, #220). Both come from the same sliding dot products
`QT[j] = Σ w[i]·r[j+i]`, which move one step along the stream in O(reference) with the
STOMP recurrence `QT'[j] = QT[j-1] - w_old·r[j-1] + w_new·r[j+m-1]`: a new reading is
scored against a week of baseline without an FFT or a look at the history. A stream keeps
its last row (`qt`) to go on where it stopped.

Distances are per value (divided by √m): z in [0, 2], raw as a root mean square in the
data's unit. A window flatter than `flat` (its standard deviation) has no shape: two flat
windows are at z 0, a flat and a shaped one at z 1 (as stumpy defines them, per value).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fleetlake.platform.numba_cache import prepare

prepare()
import numba  # noqa: E402  (after the cache is placed)


@numba.njit(cache=True)
def _insert(best: np.ndarray, value: float) -> None:
    """Keep `best` the k smallest values seen, ascending."""
    k = best.shape[0]
    if value >= best[k - 1]:
        return
    i = k - 1
    while i > 0 and best[i - 1] > value:
        best[i] = best[i - 1]
        i -= 1
    best[i] = value


@numba.njit(cache=True)
def _pair(qt: float, m: int, mu_a: float, sd_a: float, sq_a: float, mu_b: float, sd_b: float,
          sq_b: float, flat: float) -> tuple[float, float]:  # fmt: skip
    raw = np.sqrt(max(sq_a + sq_b - 2.0 * qt, 0.0) / m)
    if sd_a < flat and sd_b < flat:
        return 0.0, raw
    if sd_a < flat or sd_b < flat:
        return 1.0, raw
    rho = (qt - m * mu_a * mu_b) / (m * sd_a * sd_b)
    return np.sqrt(max(2.0 * (1.0 - rho), 0.0)), raw


@numba.njit(cache=True, fastmath=True, nogil=True)
def _ab_step(prev: np.ndarray, out: np.ndarray, reference: np.ndarray, m: int, old: float,
             new: float, mu_r: np.ndarray, inv_r: np.ndarray, off_r: np.ndarray,
             sq_r: np.ndarray, c: float) -> tuple[float, float]:  # fmt: skip
    """One STOMP step fused with the nearest-window search, branch-free so it vectorises:
    `out[j]` (j ≥ 1) from `prev[j - 1]`; the largest correlation numerator over shaped
    reference windows, and the smallest `sq_r - 2 qt` (the raw distance less the window's
    own square sum)."""
    best_rho, best_raw = -np.inf, np.inf
    for j in range(1, out.shape[0]):
        q = prev[j - 1] - old * reference[j - 1] + new * reference[j + m - 1]
        out[j] = q
        best_rho = max(best_rho, (q - c * mu_r[j]) * inv_r[j] + off_r[j])
        best_raw = min(best_raw, sq_r[j] - 2.0 * q)
    return best_rho, best_raw


@numba.njit(cache=True, fastmath=True, nogil=True)
def _ab_step2(prev: np.ndarray, out: np.ndarray, reference: np.ndarray, m: int, old1: float,
              new1: float, old2: float, new2: float, mu_r: np.ndarray, inv_r: np.ndarray,
              off_r: np.ndarray, sq_r: np.ndarray, c1: float, c2: float,
              best: np.ndarray) -> None:  # fmt: skip
    """Two STOMP steps in one sweep (j ≥ 2), both rows from `prev` so the loop still
    vectorises: the reference's factors are read once for two readings. Only the second
    row is kept (`out`); `best` gathers both rows' extremes, as `_ab_step`'s."""
    rho1, raw1, rho2, raw2 = best[0], best[1], best[2], best[3]
    for j in range(2, out.shape[0]):
        q1 = prev[j - 1] - old1 * reference[j - 1] + new1 * reference[j + m - 1]
        q2 = (prev[j - 2] - old1 * reference[j - 2] + new1 * reference[j + m - 2]
              - old2 * reference[j - 1] + new2 * reference[j + m - 1])  # fmt: skip
        out[j] = q2
        rho1 = max(rho1, (q1 - c1 * mu_r[j]) * inv_r[j] + off_r[j])
        raw1 = min(raw1, sq_r[j] - 2.0 * q1)
        rho2 = max(rho2, (q2 - c2 * mu_r[j]) * inv_r[j] + off_r[j])
        raw2 = min(raw2, sq_r[j] - 2.0 * q2)
    best[0], best[1], best[2], best[3] = rho1, raw1, rho2, raw2


@numba.njit(cache=True)
def _finish(best_rho: float, best_raw: float, sd: float, sq: float, m: int, flat: float,
            any_flat: bool) -> tuple[float, float]:  # fmt: skip
    """z and raw distances (per value) from a row's extremes."""
    raw = np.sqrt(max(sq + best_raw, 0.0) / m)
    if sd < flat:
        return (0.0 if any_flat else 1.0), raw
    rho = min(max(best_rho / sd, -1.0), 1.0)
    z = np.sqrt(2.0 * (1.0 - rho)) if best_rho > -np.inf else 2.0
    return (min(z, 1.0) if any_flat else z), raw


@numba.njit(cache=True)
def _edge(q: float, j: int, c: float, mu_r: np.ndarray, inv_r: np.ndarray, off_r: np.ndarray,
          sq_r: np.ndarray, best_rho: float, best_raw: float) -> tuple[float, float]:  # fmt: skip
    return (max(best_rho, (q - c * mu_r[j]) * inv_r[j] + off_r[j]),
            min(best_raw, sq_r[j] - 2.0 * q))  # fmt: skip


@numba.njit(cache=True)
def _dot0(stream: np.ndarray, i: int, reference: np.ndarray, m: int) -> float:
    dot = 0.0
    for t in range(m):
        dot += stream[i + t] * reference[t]
    return dot


@numba.njit(cache=True, nogil=True)
def _ab_rows(stream: np.ndarray, reference: np.ndarray, mu_r: np.ndarray, inv_r: np.ndarray,
             off_r: np.ndarray, sq_r: np.ndarray, any_flat: bool, m: int, qt: np.ndarray,
             first: int, flat: float, out_z: np.ndarray, out_raw: np.ndarray) -> None:  # fmt: skip
    """Windows `first`.. of `stream` against every window of `reference`; `qt` holds the row
    of window `first - 1` on entry (or window 0's when first is 0) and the last on exit.
    Windows go two at a time (`_ab_step2`), the last alone when their count is odd."""
    n_s = stream.shape[0] - m + 1
    mu_s, sd_s, sq_s = _stats(stream, m)
    rows = (qt, np.empty_like(qt))
    best = np.empty(4)
    now, i = 0, first
    while i < n_s:
        if i == 0:  # window 0's row is given: its extremes only
            row, rho, raw = rows[0], -np.inf, np.inf
            for j in range(row.shape[0]):
                rho, raw = _edge(row[j], j, m * mu_s[0], mu_r, inv_r, off_r, sq_r, rho, raw)
            out_z[0], out_raw[0] = _finish(rho, raw, sd_s[0], sq_s[0], m, flat, any_flat)
            i += 1
            continue
        prev, out = rows[now], rows[1 - now]
        now = 1 - now
        c1, old1, new1 = m * mu_s[i], stream[i - 1], stream[i + m - 1]
        d1 = _dot0(stream, i, reference, m)
        if i + 1 < n_s:
            c2, old2, new2 = m * mu_s[i + 1], stream[i], stream[i + m]
            d2 = _dot0(stream, i + 1, reference, m)
            q11 = prev[0] - old1 * reference[0] + new1 * reference[m]
            q21 = d1 - old2 * reference[0] + new2 * reference[m]
            best[0], best[1] = _edge(d1, 0, c1, mu_r, inv_r, off_r, sq_r, -np.inf, np.inf)
            best[0], best[1] = _edge(q11, 1, c1, mu_r, inv_r, off_r, sq_r, best[0], best[1])
            best[2], best[3] = _edge(d2, 0, c2, mu_r, inv_r, off_r, sq_r, -np.inf, np.inf)
            best[2], best[3] = _edge(q21, 1, c2, mu_r, inv_r, off_r, sq_r, best[2], best[3])
            _ab_step2(prev, out, reference, m, old1, new1, old2, new2, mu_r, inv_r, off_r,
                      sq_r, c1, c2, best)  # fmt: skip
            out[0], out[1] = d2, q21
            k = i - first
            out_z[k], out_raw[k] = _finish(best[0], best[1], sd_s[i], sq_s[i], m, flat,
                                           any_flat)  # fmt: skip
            out_z[k + 1], out_raw[k + 1] = _finish(best[2], best[3], sd_s[i + 1], sq_s[i + 1],
                                                   m, flat, any_flat)  # fmt: skip
            i += 2
            continue
        out[0] = d1
        rho, raw = _ab_step(prev, out, reference, m, old1, new1, mu_r, inv_r, off_r, sq_r, c1)
        rho, raw = _edge(d1, 0, c1, mu_r, inv_r, off_r, sq_r, rho, raw)
        out_z[i - first], out_raw[i - first] = _finish(rho, raw, sd_s[i], sq_s[i], m, flat,
                                                       any_flat)  # fmt: skip
        i += 1
    if now == 1:
        qt[:] = rows[1]


@numba.njit(cache=True, nogil=True)
def _stats(values: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = values.shape[0] - m + 1
    mean, std, sq = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):  # per window, not by cumulative sums: exact over any stream length
        s, s2 = 0.0, 0.0
        for t in range(m):
            s += values[i + t]
            s2 += values[i + t] * values[i + t]
        mean[i] = s / m
        var = 0.0
        for t in range(m):
            var += (values[i + t] - mean[i]) ** 2
        std[i] = np.sqrt(var / m)
        sq[i] = s2
    return mean, std, sq


@dataclass(frozen=True)
class Reference:
    """A baseline ready to be compared with: its values (less their mean, which moves no
    distance and keeps the dot products exact) and its windows' statistics."""

    values: np.ndarray
    m: int
    center: float
    mean: np.ndarray
    std: np.ndarray
    squares: np.ndarray
    _shaped: dict[float, tuple[np.ndarray, np.ndarray, bool]] = field(
        default_factory=dict, compare=False, repr=False
    )  # by flatness: made once per baseline, not per scored batch

    @classmethod
    def of(cls, values: np.ndarray, *, m: int) -> Reference:
        values = np.asarray(values, dtype=np.float64)
        if values.shape[0] < m:
            raise ValueError(f"a reference of {values.shape[0]} values is shorter than m={m}")
        center = float(values.mean())
        centred = np.ascontiguousarray(values - center)
        mean, std, squares = _stats(centred, m)
        return cls(centred, m, center, mean, std, squares)

    def shaped(self, flat: float) -> tuple[np.ndarray, np.ndarray, bool]:
        """Per window, 1 / (m sd) and 0 when shaped, 0 and -inf when flat (so a flat window
        never holds the best correlation), and whether any window is flat."""
        if flat not in self._shaped:
            self._shaped[flat] = self._shaped_now(flat)
        return self._shaped[flat]

    def _shaped_now(self, flat: float) -> tuple[np.ndarray, np.ndarray, bool]:
        is_flat = self.std < flat
        inv = np.where(is_flat, 0.0, 1.0 / (self.m * np.where(is_flat, 1.0, self.std)))
        return inv, np.where(is_flat, -np.inf, 0.0), bool(is_flat.any())

    def first_row(self, window: np.ndarray) -> np.ndarray:
        """QT of one (centred) window against every window of the reference."""
        return np.correlate(self.values, window, mode="valid").astype(np.float64)


def ab_distances(
    stream: np.ndarray, reference: Reference, *, flat: float, qt: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each window of `stream` to its nearest in `reference`: z and raw distances, and the
    QT row to continue from. With `qt` (the row of the stream's first window, returned by
    the call before), the first window is taken as scored and left out."""
    m = reference.m
    stream = np.ascontiguousarray(np.asarray(stream, dtype=np.float64) - reference.center)
    first = 0 if qt is None else 1
    row = reference.first_row(stream[:m]) if qt is None else qt.copy()
    count = max(stream.shape[0] - m + 1 - first, 0)
    out_z, out_raw = np.empty(count), np.empty(count)
    if count:
        inv, off, any_flat = reference.shaped(flat)
        _ab_rows(stream, reference.values, reference.mean, inv, off, reference.squares,
                 any_flat, m, row, first, flat, out_z, out_raw)  # fmt: skip
    return out_z, out_raw, row


@numba.njit(cache=True, fastmath=True, nogil=True)
def _nearest(row: np.ndarray, lo: int, hi: int, c: float, mu_r: np.ndarray, inv_r: np.ndarray,
             off_r: np.ndarray, sq_r: np.ndarray) -> tuple[float, float]:  # fmt: skip
    """The best correlation numerator and `sq_r - 2 qt` over the row, [lo, hi) left out."""
    best_rho, best_raw = -np.inf, np.inf
    for j in range(0, lo):
        best_rho = max(best_rho, (row[j] - c * mu_r[j]) * inv_r[j] + off_r[j])
        best_raw = min(best_raw, sq_r[j] - 2.0 * row[j])
    for j in range(hi, row.shape[0]):
        best_rho = max(best_rho, (row[j] - c * mu_r[j]) * inv_r[j] + off_r[j])
        best_raw = min(best_raw, sq_r[j] - 2.0 * row[j])
    return best_rho, best_raw


@numba.njit(cache=True, nogil=True)
def _self_block(reference: np.ndarray, m: int, start: int, count: int, qt: np.ndarray,
                mu_r: np.ndarray, sd_r: np.ndarray, inv_r: np.ndarray, off_r: np.ndarray,
                sq_r: np.ndarray, any_flat: bool, exclusion: int, flat: float,
                out_z: np.ndarray, out_raw: np.ndarray) -> None:  # fmt: skip
    """Windows start.. start+count of the reference against the reference itself, their own
    neighbourhood (± exclusion) left out; `qt` holds window `start`'s row on entry."""
    n_r = reference.shape[0] - m + 1
    for k in range(count):
        i = start + k
        if k > 0:
            old, new = reference[i - 1], reference[i + m - 1]
            for j in range(n_r - 1, 0, -1):
                qt[j] = qt[j - 1] - old * reference[j - 1] + new * reference[j + m - 1]
            dot = 0.0
            for t in range(m):
                dot += reference[i + t] * reference[t]
            qt[0] = dot
        lo, hi = max(i - exclusion, 0), min(i + exclusion + 1, n_r)
        best_rho, best_raw = _nearest(qt, lo, hi, m * mu_r[i], mu_r, inv_r, off_r, sq_r)
        out_z[k], out_raw[k] = _finish(best_rho, best_raw, sd_r[i], sq_r[i], m, flat, any_flat)


def sampled_self_distances(
    reference: Reference, *, blocks: int, block: int, flat: float
) -> tuple[np.ndarray, np.ndarray]:
    """The self-join's nearest-neighbour distances (z and raw, per value) of `blocks` runs
    of `block` windows spread evenly over the reference, each against all of it with its
    own neighbourhood (m / 4 either side, as stumpy) left out: the distribution of the
    whole self-join at a fraction of its O(n²) cost."""
    m = reference.m
    n_r = reference.values.shape[0] - m + 1
    block = min(block, n_r)
    starts = np.linspace(0, n_r - block, max(blocks, 1)).astype(np.int64)
    inv, off, any_flat = reference.shaped(flat)
    zs, raws = [], []
    for start in np.unique(starts).tolist():
        out_z, out_raw = np.empty(block), np.empty(block)
        qt = reference.first_row(reference.values[start : start + m])
        _self_block(reference.values, m, start, block, qt, reference.mean, reference.std, inv,
                    off, reference.squares, any_flat, int(np.ceil(m / 4)), flat, out_z,
                    out_raw)  # fmt: skip
        zs.append(out_z)
        raws.append(out_raw)
    return np.concatenate(zs), np.concatenate(raws)


@numba.njit(cache=True)
def _left_rows(values: np.ndarray, m: int, k: int, exclusion: int, flat: float,
               out_z: np.ndarray, out_raw: np.ndarray) -> None:  # fmt: skip
    n = values.shape[0] - m + 1
    mu, sd, sq = _stats(values, m)
    qt = np.empty(n)
    for j in range(n):  # row 0
        dot = 0.0
        for t in range(m):
            dot += values[t] * values[j + t]
        qt[j] = dot
    best_z, best_raw = np.empty(k), np.empty(k)
    for i in range(n):
        if i > 0:
            old, new = values[i - 1], values[i + m - 1]
            for j in range(i, 0, -1):  # only j ≤ i is needed: the left of window i
                qt[j] = qt[j - 1] - old * values[j - 1] + new * values[j + m - 1]
            dot = 0.0
            for t in range(m):
                dot += values[i + t] * values[t]
            qt[0] = dot
        best_z[:] = np.inf
        best_raw[:] = np.inf
        for j in range(0, i - exclusion + 1):
            z, raw = _pair(qt[j], m, mu[i], sd[i], sq[i], mu[j], sd[j], sq[j], flat)
            _insert(best_z, z)
            _insert(best_raw, raw)
        out_z[i] = best_z[k - 1]
        out_raw[i] = best_raw[k - 1]


def left_distances(
    values: np.ndarray, *, m: int, k: int = 1, exclusion: int | None = None, flat: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each window to its k-th nearest window ending at least `exclusion` (default m)
    values before it: the left matrix profile, z and raw; inf while fewer than k exist.
    k > 1 keeps a second occurrence of an anomaly from hiding behind the first."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    values = values - values.mean()  # the distances do not move; the dot products lose less
    n = max(values.shape[0] - m + 1, 0)
    out_z, out_raw = np.empty(n), np.empty(n)
    _left_rows(values, m, k, m if exclusion is None else exclusion, flat, out_z, out_raw)
    return out_z, out_raw
