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

from fleetlake.monitoring.reductions import fmax, fmin  # noqa: E402


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


TILE = 512  # reference windows a sweep takes at once: its rows and factors stay in L1
STEPS = 32  # stream windows a sweep advances at most


@numba.njit(cache=True, fastmath=True, nogil=True)
def _tile_step(a: np.ndarray, b: np.ndarray, left: np.ndarray, right: np.ndarray, old: float,
               new: float, c: float, mu_r: np.ndarray, inv_r: np.ndarray,
               sq_r: np.ndarray) -> tuple[float, float]:  # fmt: skip
    """One STOMP step over a tile, fused with the nearest-window search and branch-free so
    it vectorises: `b[t]` from `a[t]` (the row before, one window back), `left`/`right` the
    reference values leaving and entering each window; the largest correlation numerator
    (0 for a flat reference window, whose inv_r is 0) and the smallest `sq_r - 2 qt` (the
    raw distance less the window's own squares). Every array starts at the tile, so each
    index is the loop's own (no negative-index check keeps the loop from vectorising)."""
    best_rho, best_raw = -np.inf, np.inf
    for t in range(b.shape[0]):
        q = a[t] - old * left[t] + new * right[t]
        b[t] = q
        best_rho = fmax(best_rho, (q - c * mu_r[t]) * inv_r[t])
        best_raw = fmin(best_raw, sq_r[t] - 2.0 * q)
    return best_rho, best_raw


@numba.njit(cache=True, nogil=True)
def _sweep(qt: np.ndarray, reference: np.ndarray, m: int, olds: np.ndarray, news: np.ndarray,
           dots: np.ndarray, cs: np.ndarray, mu_r: np.ndarray, inv_r: np.ndarray,
           sq_r: np.ndarray, best_rho: np.ndarray, best_raw: np.ndarray) -> None:  # fmt: skip
    """`olds.shape[0]` STOMP steps from the row `qt`, tile by tile: each tile of the row is
    carried through every step while it is in L1, so the reference and its factors are read
    once a sweep, not once a window. `dots[s]` is step s's QT[0]; `qt` ends as the last row;
    `best_*[s]` gather step s's extremes. The first value of a tile's step needs the row
    before's value one window left of the tile: kept per step in `edges`."""
    steps, n = olds.shape[0], qt.shape[0]
    edges = np.empty(steps)  # row s's last value of the previous tile
    a, b = np.empty(TILE + 1), np.empty(TILE + 1)
    best_rho[:] = -np.inf
    best_raw[:] = np.inf
    for start in range(0, n, TILE):
        count = min(TILE, n - start)
        a[1 : count + 1] = qt[start : start + count]
        for s in range(steps):
            a[0] = edges[s]
            edges[s] = a[count]
            lo = 1 if start == 0 else 0  # QT[0] is the direct dot product, not a step
            j, end = start + lo, start + count
            rho, raw = _tile_step(a[lo:count], b[lo + 1 : count + 1], reference[j - 1 : end - 1],
                                  reference[j + m - 1 : end + m - 1], olds[s], news[s], cs[s],
                                  mu_r[j:end], inv_r[j:end], sq_r[j:end])  # fmt: skip
            if start == 0:
                b[1] = dots[s]
                rho = max(rho, (dots[s] - cs[s] * mu_r[0]) * inv_r[0])
                raw = min(raw, sq_r[0] - 2.0 * dots[s])
            best_rho[s] = max(best_rho[s], rho)
            best_raw[s] = min(best_raw[s], raw)
            a, b = b, a
        qt[start : start + count] = a[1 : count + 1]


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
def _dot0(stream: np.ndarray, i: int, reference: np.ndarray, m: int) -> float:
    dot = 0.0
    for t in range(m):
        dot += stream[i + t] * reference[t]
    return dot


@numba.njit(cache=True, nogil=True)
def _ab_rows(stream: np.ndarray, reference: np.ndarray, mu_r: np.ndarray, inv_r: np.ndarray,
             sq_r: np.ndarray, any_flat: bool, m: int, qt: np.ndarray, first: int,
             flat: float, out_z: np.ndarray, out_raw: np.ndarray) -> None:  # fmt: skip
    """Windows `first`.. of `stream` against every window of `reference`; `qt` holds the row
    of window `first - 1` on entry (or window 0's when first is 0) and the last on exit.
    Windows go STEPS at a time, one sweep of the reference each (`_sweep`)."""
    n_s = stream.shape[0] - m + 1
    mu_s, sd_s, sq_s = _stats(stream, m)
    i = first
    if i == 0:  # window 0's row is given: its extremes only
        rho, raw = -np.inf, np.inf
        for j in range(qt.shape[0]):
            rho = max(rho, (qt[j] - m * mu_s[0] * mu_r[j]) * inv_r[j])
            raw = min(raw, sq_r[j] - 2.0 * qt[j])
        out_z[0], out_raw[0] = _finish(rho, raw, sd_s[0], sq_s[0], m, flat, any_flat)
        i = 1
    best_rho, best_raw = np.empty(STEPS), np.empty(STEPS)
    while i < n_s:
        steps = min(STEPS, n_s - i)
        olds, news = (
            stream[i - 1 : i - 1 + steps].copy(),
            stream[i + m - 1 : i + m - 1 + steps].copy(),
        )
        dots, cs = np.empty(steps), np.empty(steps)
        for s in range(steps):
            dots[s] = _dot0(stream, i + s, reference, m)
            cs[s] = m * mu_s[i + s]
        _sweep(qt, reference, m, olds, news, dots, cs, mu_r, inv_r, sq_r, best_rho[:steps],
               best_raw[:steps])  # fmt: skip
        for s in range(steps):
            k = i + s - first
            out_z[k], out_raw[k] = _finish(best_rho[s], best_raw[s], sd_s[i + s], sq_s[i + s],
                                           m, flat, any_flat)  # fmt: skip
        i += steps


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
    _shaped: dict[float, tuple[np.ndarray, bool]] = field(
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

    def shaped(self, flat: float) -> tuple[np.ndarray, bool]:
        """Per window 1 / (m sd), 0 when flat (its correlation numerator 0: a flat window is
        at z √2 at most, and `_finish` caps z at 1 when any window is flat, as stumpy's flat
        and shaped pair), and whether any window is flat."""
        if flat not in self._shaped:
            self._shaped[flat] = self._shaped_now(flat)
        return self._shaped[flat]

    def _shaped_now(self, flat: float) -> tuple[np.ndarray, bool]:
        is_flat = self.std < flat
        inv = np.where(is_flat, 0.0, 1.0 / (self.m * np.where(is_flat, 1.0, self.std)))
        return inv, bool(is_flat.any())

    def first_row(self, window: np.ndarray) -> np.ndarray:
        """QT of one (centred) window against every window of the reference."""
        return np.correlate(self.values, window, mode="valid").astype(np.float64)


def ab_distances(
    stream: np.ndarray, reference: Reference, *, flat: float, qt: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each window of `stream` to its nearest in `reference`: z and raw distances, and the
    QT row to continue from. With `qt` (the row of the stream's first window, returned by
    the call before), the first window is taken as scored and left out; `qt` is advanced
    in place (and returned), not copied: a row is a week of baseline."""
    m = reference.m
    stream = np.ascontiguousarray(np.asarray(stream, dtype=np.float64) - reference.center)
    first = 0 if qt is None else 1
    row = reference.first_row(stream[:m]) if qt is None else qt
    count = max(stream.shape[0] - m + 1 - first, 0)
    out_z, out_raw = np.empty(count), np.empty(count)
    if count:
        inv, any_flat = reference.shaped(flat)
        _ab_rows(stream, reference.values, reference.mean, inv, reference.squares, any_flat,
                 m, row, first, flat, out_z, out_raw)  # fmt: skip
    return out_z, out_raw, row


@numba.njit(cache=True, fastmath=True, nogil=True)
def _nearest(row: np.ndarray, lo: int, hi: int, c: float, mu_r: np.ndarray, inv_r: np.ndarray,
             sq_r: np.ndarray) -> tuple[float, float]:  # fmt: skip
    """The best correlation numerator and `sq_r - 2 qt` over the row, [lo, hi) left out."""
    best_rho, best_raw = -np.inf, np.inf
    for j in range(0, lo):
        best_rho = fmax(best_rho, (row[j] - c * mu_r[j]) * inv_r[j])
        best_raw = fmin(best_raw, sq_r[j] - 2.0 * row[j])
    for j in range(hi, row.shape[0]):
        best_rho = fmax(best_rho, (row[j] - c * mu_r[j]) * inv_r[j])
        best_raw = fmin(best_raw, sq_r[j] - 2.0 * row[j])
    return best_rho, best_raw


@numba.njit(cache=True, nogil=True)
def _self_block(reference: np.ndarray, m: int, start: int, count: int, qt: np.ndarray,
                mu_r: np.ndarray, sd_r: np.ndarray, inv_r: np.ndarray, sq_r: np.ndarray,
                any_flat: bool, exclusion: int, flat: float,
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
        best_rho, best_raw = _nearest(qt, lo, hi, m * mu_r[i], mu_r, inv_r, sq_r)
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
    inv, any_flat = reference.shaped(flat)
    zs, raws = [], []
    for start in np.unique(starts).tolist():
        out_z, out_raw = np.empty(block), np.empty(block)
        qt = reference.first_row(reference.values[start : start + m])
        _self_block(reference.values, m, start, block, qt, reference.mean, reference.std, inv,
                    reference.squares, any_flat, int(np.ceil(m / 4)), flat, out_z,
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
