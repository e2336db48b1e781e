"""A leak inside a template: the box model, and its inflow and source fitted to what sensors saw.

The template is a well-mixed box of internal volume V exchanging with the sea around it at a
rate λ (1/h): with C the gas's volume fraction above background (normal m³ of gas per m³ of
box) and Q the inflow (Nm³/h) from t0,

    V dC/dt = Q - λ V C   ⇒   C(t) = Q / (λ V) · (1 - e^(-λ (t - t0)))

λ from the geometry: the open wall area (porosity x wall area, summed over the faces when
given per face) times the exchange velocity of the water through it, over the volume,
`λ = Σ porosity_f · area_f · v / V` (v a setting, in m/h). A sensor near the source reads
more than the box average, by the gain `1 + g · e^(-d / L)` with d its distance to the source
and L a fraction of the template's largest side: the position that leaves the sensors'
rises in that pattern is the source estimate.

The fit: Q, λ, t0, the source and the near-source gain g by least squares on every sensor's
rise (ppmv, noise sigma), λ and g held near their settings by priors (log λ and log g within
a factor e^0.5 unless the data say otherwise: early in a rise only Q / V shows, later the
bend gives λ; g trades off against Q, so a template whose gain differs from the setting
widens the range instead of biasing it unseen). The 95 % interval of Q by profiling,
widened for correlated misfit. Methane at normal
conditions weighs 0.717 kg/Nm³.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

CH4_KG_PER_NM3 = 0.717
LOG_LAMBDA_SIGMA = 0.5  # the prior's width on log λ
LOG_GAIN_SIGMA = 0.5  # and on log g: the near-source gain is a setting, not a measurement
PRIORS = 2  # prior terms at the end of the misfit
Z95 = 1.96


@dataclass(frozen=True)
class Geometry:
    internal_volume_m3: float
    length_m: float
    width_m: float
    height_m: float
    porosity: tuple[float, ...]  # one value, or one per face (with wall_area_m2)
    wall_area_m2: tuple[float, ...]

    def open_area_m2(self) -> float:
        if len(self.porosity) == len(self.wall_area_m2):
            return float(np.dot(self.porosity, self.wall_area_m2))
        return float(np.mean(self.porosity) * np.sum(self.wall_area_m2))

    def largest_side_m(self) -> float:
        return max(self.length_m, self.width_m, self.height_m)


@dataclass(frozen=True)
class Physics:
    exchange_velocity_m_h: float = 3.6  # water through the open wall: 1 mm/s
    near_gain: float = 1.0  # a sensor at the source reads (1 + gain) x the box average
    near_length_fraction: float = 0.25  # of the largest side


def exchange_rate_per_h(geometry: Geometry, physics: Physics) -> float:
    return geometry.open_area_m2() * physics.exchange_velocity_m_h / geometry.internal_volume_m3


def box_fraction(
    hours: np.ndarray, *, rate_nm3_h: float, exchange_per_h: float, volume_m3: float,
    start_h: float,
) -> np.ndarray:  # fmt: skip
    """C(t): the box's gas volume fraction above background, 0 before the leak starts (a
    closed box, λ = 0, fills linearly: the limit of the same formula)."""
    since = np.clip(np.asarray(hours, dtype=float) - start_h, 0.0, None)
    if exchange_per_h <= 0:
        return np.asarray(rate_nm3_h * since / volume_m3)
    return np.asarray(
        rate_nm3_h / (exchange_per_h * volume_m3) * -np.expm1(-exchange_per_h * since)
    )


def near_gain(
    sensors_xyz: np.ndarray, source_xyz: np.ndarray, *, geometry: Geometry, physics: Physics,
    strength: float = 1.0,
) -> np.ndarray:  # fmt: skip
    """1 + g e^(-d / L) per sensor; `strength` scales g (the fit's departure from it)."""
    distance = np.linalg.norm(np.asarray(sensors_xyz) - np.asarray(source_xyz), axis=-1)
    scale = physics.near_length_fraction * geometry.largest_side_m()
    return np.asarray(1.0 + strength * physics.near_gain * np.exp(-distance / scale))


def sensor_rise_ppmv(
    hours: np.ndarray, sensors_xyz: np.ndarray, *, rate_nm3_h: float, source_xyz: np.ndarray,
    start_h: float, geometry: Geometry, physics: Physics, exchange_per_h: float | None = None,
) -> np.ndarray:  # fmt: skip
    """What each sensor (rows) reads above its background at each hour (columns)."""
    rate = exchange_rate_per_h(geometry, physics) if exchange_per_h is None else exchange_per_h
    box = box_fraction(hours, rate_nm3_h=rate_nm3_h, exchange_per_h=rate,
                       volume_m3=geometry.internal_volume_m3, start_h=start_h)  # fmt: skip
    gain = near_gain(sensors_xyz, source_xyz, geometry=geometry, physics=physics)
    return np.asarray(1e6 * gain[:, None] * box[None, :])


@dataclass(frozen=True)
class Rise:
    """One sensor's readings above its background since shortly before the alarm."""

    sensor_id: int
    xyz: tuple[float, float, float]
    hours: np.ndarray
    ppmv: np.ndarray


@dataclass(frozen=True)
class LeakEstimate:
    rate_nm3_h: float
    rate_nm3_h_low: float
    rate_nm3_h_high: float
    exchange_per_h: float
    start_h: float
    source_xyz: tuple[float, float, float]
    sensors: tuple[int, ...]
    residual_ppmv: float  # root mean square of the fit's misfit

    @property
    def rate_kg_h(self) -> float:
        return self.rate_nm3_h * CH4_KG_PER_NM3

    @property
    def rate_kg_h_range(self) -> tuple[float, float]:
        return self.rate_nm3_h_low * CH4_KG_PER_NM3, self.rate_nm3_h_high * CH4_KG_PER_NM3


def estimate_leak(
    rises: list[Rise], *, geometry: Geometry, physics: Physics, noise_ppmv: float
) -> LeakEstimate:
    """Q, λ, t0 and the source fitted to the sensors' rises (see the module's docstring)."""
    from scipy.optimize import least_squares

    if not rises or sum(len(r.hours) for r in rises) < 6:
        raise ValueError("a leak estimate needs at least 6 readings above background")
    xyz = np.array([r.xyz for r in rises], dtype=float)
    hours = [np.asarray(r.hours, dtype=float) for r in rises]
    seen = [np.asarray(r.ppmv, dtype=float) for r in rises]
    prior = np.log(exchange_rate_per_h(geometry, physics))
    volume = geometry.internal_volume_m3
    low = np.array([0.0, prior - 5, min(h.min() for h in hours) - 24, 0, 0, 0, -3])
    high = np.array([np.inf, prior + 5, max(h.max() for h in hours),
                     geometry.length_m, geometry.width_m, geometry.height_m, 3])  # fmt: skip

    def misfit(p: np.ndarray) -> np.ndarray:
        rate, log_lambda, start, source, log_gain = p[0], p[1], p[2], p[3:6], p[6]
        gain = near_gain(xyz, source, geometry=geometry, physics=physics,
                         strength=float(np.exp(log_gain)))  # fmt: skip
        parts = [(1e6 * g * box_fraction(h, rate_nm3_h=rate, exchange_per_h=np.exp(log_lambda),
                  volume_m3=volume, start_h=start) - y) / noise_ppmv
                 for g, h, y in zip(gain, hours, seen, strict=True)]  # fmt: skip
        priors = [(log_lambda - prior) / LOG_LAMBDA_SIGMA, log_gain / LOG_GAIN_SIGMA]
        return np.concatenate([*parts, priors])

    start = initial_guess(hours, seen, xyz, geometry=geometry, prior_log_lambda=prior)
    # The source's position has local optima (sensors placed symmetrically): start from the
    # rise-weighted centre and from each sensor, keep the best.
    starts = [start, *[np.concatenate((start[:3], p, start[6:])) for p in xyz]]
    fits = [least_squares(misfit, np.clip(s, low, high), bounds=(low, high), x_scale="jac")
            for s in starts]  # fmt: skip
    fit = min(fits, key=lambda f: float(f.cost))
    rate = float(fit.x[0])
    residual = fit.fun[:-PRIORS] * noise_ppmv
    rate_low, rate_high = profile_interval(misfit, fit, low=low, high=high)
    return LeakEstimate(
        rate_nm3_h=rate,
        rate_nm3_h_low=rate_low,
        rate_nm3_h_high=rate_high,
        exchange_per_h=float(np.exp(fit.x[1])),
        start_h=float(fit.x[2]),
        source_xyz=(float(fit.x[3]), float(fit.x[4]), float(fit.x[5])),
        sensors=tuple(r.sensor_id for r in rises),
        residual_ppmv=float(np.sqrt(np.mean(residual**2))),
    )


def initial_guess(
    hours: list[np.ndarray], seen: list[np.ndarray], xyz: np.ndarray, *, geometry: Geometry,
    prior_log_lambda: float,
) -> np.ndarray:  # fmt: skip
    """Where the fit starts: the source at the rise-weighted centre of the sensors; the start
    where the strongest rise last sat near zero; Q from its early slope (C ≈ Q t / V)."""
    rise = np.array([max(float(np.max(y)), 0.0) for y in seen]) + 1e-12
    centre = (rise[:, None] * xyz).sum(axis=0) / rise.sum()
    h, y = hours[int(np.argmax(rise))], seen[int(np.argmax(rise))]
    peak = int(np.argmax(y))
    quiet = np.flatnonzero(y[: peak + 1] < 0.05 * y[peak])
    onset = float(h[quiet[-1]]) if len(quiet) else float(h[0])
    early = np.flatnonzero((y >= 0.3 * y[peak]) & (h > onset))
    at = int(early[0]) if len(early) else peak
    slope = float(y[at]) / max(float(h[at]) - onset, 1e-3)  # ppmv/h at the strongest sensor
    rate = max(slope * 1e-6 * geometry.internal_volume_m3 / 1.5, 1e-6)  # 1.5: a typical gain
    return np.array([rate, prior_log_lambda, onset, *centre, 0.0])


def misfit_inflation(residuals: np.ndarray) -> float:
    """How much more than white noise the misfit weighs: its size over the noise assumed,
    and how correlated it is (a tide left in the rises makes neighbouring readings one piece
    of evidence, not many: n_eff = n (1 - r) / (1 + r), r their lag-1 correlation)."""
    misfit = residuals[:-PRIORS]  # the last are the priors on λ and g
    scale = max(float(misfit @ misfit) / max(len(misfit) - 7, 1), 1.0)
    r = 0.0
    if len(misfit) > 2 and float(np.std(misfit)) > 0:
        r = float(np.clip(np.corrcoef(misfit[:-1], misfit[1:])[0, 1], 0.0, 0.999))
    return scale * (1 + r) / (1 - r)


def profile_interval(
    misfit: Any, fit: Any, *, low: np.ndarray, high: np.ndarray
) -> tuple[float, float]:
    """The rate's 95 % interval by profiling: the rates at which, every other parameter
    refitted, the misfit grows by 3.84 (χ² with one degree of freedom, times the inflation).
    Honest where the rate trades off against the source's distance, which a covariance
    from the Jacobian is not."""
    from scipy.optimize import least_squares

    best = float(fit.x[0])
    limit = 2 * float(fit.cost) + 3.84 * misfit_inflation(fit.fun)

    def chi2(rate: float) -> float:
        fixed = least_squares(lambda q: misfit(np.concatenate(([rate], q))), fit.x[1:],
                              bounds=(low[1:], high[1:]), x_scale="jac", max_nfev=100)  # fmt: skip
        return 2 * float(fixed.cost)

    def edge(direction: float) -> float:
        inside, outside = best, best
        for _ in range(40):  # widen until outside the limit
            outside = outside * 2**direction if outside > 0 else 1e-6
            if chi2(outside) > limit or outside < 1e-9 * max(best, 1e-9):
                break
            inside = outside
        for _ in range(12):  # then halve the bracket
            middle = (inside + outside) / 2
            inside, outside = (middle, outside) if chi2(middle) <= limit else (inside, middle)
        return (inside + outside) / 2

    if best <= 0:
        return 0.0, edge(1.0)
    return edge(-0.05), edge(0.05)
