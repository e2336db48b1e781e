"""The charging model: constant power up to the taper, then power falling linearly with state
of charge; times and charges in closed form, never by stepping.

With capacity C (kWh), charger power P (kW, the car's own limit if lower), efficiency η, taper
start s_t (%) and end fraction m (power at 100 % is m·P), the grid draws at state of charge s

    P(s) = P                                   for s ≤ s_t
    P(s) = P · (1 - k (s - s_t)),  k = (1 - m) / (100 - s_t)   above,

and the battery gains η·P(s). A planner may cap a car at c ≤ P: it then draws min(c, P(s)),
constant c up to s_c = s_t + (1 - c/P)/k, then the taper as before. So, per phase,

    constant:  ds/dt = 100 η c / C                 → linear in time
    taper:     u = 1 - k (s - s_t),  du/dt = -β u,  β = 100 η P k / C  → u(t) = u₀ e^(-βt)

which gives `hours_between` (a → b) and its exact inverse `soc_after` (a, hours). Numpy arrays
work in place of floats throughout, which is how the planner runs a whole lot at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

Number = Any  # a float, or a numpy array of them (broadcast together)


@dataclass(frozen=True)
class ChargeCurve:
    """One car on one charger. `power_kw` is already the lower of charger and car."""

    capacity_kwh: float
    power_kw: float
    efficiency: float = 0.9
    taper_start_pct: float = 80.0
    taper_end_fraction: float = 0.2

    @property
    def slope(self) -> float:
        return float(taper_slope(self.taper_start_pct, self.taper_end_fraction))

    def power_at(self, soc_pct: float, cap_kw: float | None = None) -> float:
        """Grid power drawn at this state of charge (under a cap, when given)."""
        return float(power_at(soc_pct, cap_kw=self._cap(cap_kw), **self._arrays()))

    def hours_between(self, start_pct: float, end_pct: float, cap_kw: float | None = None) -> float:
        """Hours to charge from `start_pct` to `end_pct` (0 when already there)."""
        hours = hours_between(start_pct, end_pct, cap_kw=self._cap(cap_kw), **self._arrays())
        return float(hours)

    def soc_after(self, start_pct: float, hours: float, cap_kw: float | None = None) -> float:
        """State of charge after charging `hours` from `start_pct` (never past 100 %)."""
        return float(soc_after(start_pct, hours, cap_kw=self._cap(cap_kw), **self._arrays()))

    def _cap(self, cap_kw: float | None) -> float:
        return self.power_kw if cap_kw is None else min(cap_kw, self.power_kw)

    def _arrays(self) -> dict[str, float]:
        return {
            "capacity_kwh": self.capacity_kwh,
            "power_kw": self.power_kw,
            "efficiency": self.efficiency,
            "taper_start_pct": self.taper_start_pct,
            "slope": self.slope,
        }


def taper_slope(taper_start_pct: Number, taper_end_fraction: Number) -> Number:
    """k: the fraction of full power lost per percent above the taper start (0: no taper)."""
    span = np.maximum(100.0 - np.asarray(taper_start_pct, dtype=float), 1e-12)
    no_taper = np.asarray(taper_start_pct) >= 100.0
    return np.where(no_taper, 0.0, (1.0 - taper_end_fraction) / span)


def cap_knee(cap_kw: Number, power_kw: Number, taper_start_pct: Number, slope: Number) -> Number:
    """s_c: where the taper falls below the cap, so the car stops drawing the cap (∞: never)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        below = np.maximum(0.0, 1.0 - np.asarray(cap_kw) / power_kw)
        knee = np.where(
            slope > 0, taper_start_pct + below / np.where(slope > 0, slope, 1.0), np.inf
        )
    return knee


def power_at(
    soc_pct: Number,
    *,
    cap_kw: Number,
    power_kw: Number,
    taper_start_pct: Number,
    slope: Number,
    **_: Any,
) -> Number:
    tapered = power_kw * (1.0 - slope * np.maximum(0.0, np.asarray(soc_pct) - taper_start_pct))
    return np.minimum(cap_kw, tapered)


def hours_between(
    start_pct: Number,
    end_pct: Number,
    *,
    cap_kw: Number,
    capacity_kwh: Number,
    power_kw: Number,
    efficiency: Number,
    taper_start_pct: Number,
    slope: Number,
) -> Number:
    """The exact integral of (C/100) / (η · min(c, P(s))) ds from start to end."""
    a = np.asarray(start_pct, dtype=float)
    b = np.maximum(a, end_pct)
    knee = cap_knee(cap_kw, power_kw, taper_start_pct, slope)
    with np.errstate(divide="ignore", invalid="ignore"):
        constant = (np.clip(b, None, knee) - np.clip(a, None, knee)) * capacity_kwh
        constant_h = np.where(b > a, constant / (100.0 * efficiency * np.asarray(cap_kw)), 0.0)
        a_t, b_t = np.maximum(a, knee), np.maximum(b, knee)
        # ln(u_a / u_b) by log1p: exact also for a taper so slight that u is 1 in floats
        log_ratio = np.log1p(-slope * (a_t - taper_start_pct)) - np.log1p(
            -slope * (b_t - taper_start_pct)
        )
        beta = 100.0 * efficiency * power_kw * slope / capacity_kwh
        taper_h = np.where(b_t > a_t, log_ratio / np.where(beta > 0, beta, 1.0), 0.0)
    return constant_h + taper_h


def soc_after(
    start_pct: Number,
    hours: Number,
    *,
    cap_kw: Number,
    capacity_kwh: Number,
    power_kw: Number,
    efficiency: Number,
    taper_start_pct: Number,
    slope: Number,
) -> Number:
    """The inverse of `hours_between`: where charging from `start_pct` for `hours` ends."""
    a = np.asarray(start_pct, dtype=float)
    h = np.maximum(0.0, hours)
    knee = cap_knee(cap_kw, power_kw, taper_start_pct, slope)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rate = 100.0 * efficiency * np.asarray(cap_kw) / capacity_kwh  # %/h while constant
        to_knee_h = np.where(a < knee, (knee - a) / rate, 0.0)
        linear = a + rate * h
        a_t = np.maximum(a, knee)
        left_h = np.maximum(0.0, h - to_knee_h)
        beta = 100.0 * efficiency * power_kw * slope / capacity_kwh
        u_a = 1.0 - slope * (a_t - taper_start_pct)
        # s = a_t + u_a (1 - e^(-βh)) / k, by expm1 so that a slight taper loses no digits
        tapered = a_t + u_a * -np.expm1(-beta * left_h) / np.where(slope > 0, slope, 1.0)
        soc = np.where(h <= to_knee_h, linear, tapered)
    return np.minimum(soc, 100.0)


def soc_after_one(
    start_pct: float,
    hours: float,
    *,
    cap_kw: float,
    capacity_kwh: float,
    power_kw: float,
    efficiency: float,
    taper_start_pct: float,
    slope: float,
) -> float:
    """`soc_after` for one car in plain floats: a status read is a few microseconds, where
    numpy's per-call cost on scalars is tens."""
    h = max(0.0, hours)
    if cap_kw <= 0:
        return start_pct
    knee = taper_start_pct + max(0.0, 1.0 - cap_kw / power_kw) / slope if slope > 0 else math.inf
    rate = 100.0 * efficiency * cap_kw / capacity_kwh
    to_knee_h = (knee - start_pct) / rate if start_pct < knee else 0.0
    if h <= to_knee_h:
        return min(100.0, start_pct + rate * h)
    a_t = max(start_pct, knee)
    beta = 100.0 * efficiency * power_kw * slope / capacity_kwh
    u_a = 1.0 - slope * (a_t - taper_start_pct)
    return min(100.0, a_t + u_a * -math.expm1(-beta * (h - to_knee_h)) / slope)


def power_at_one(
    soc_pct: float, *, cap_kw: float, power_kw: float, taper_start_pct: float, slope: float,
    **_: float,
) -> float:  # fmt: skip
    return min(cap_kw, power_kw * (1.0 - slope * max(0.0, soc_pct - taper_start_pct)))
