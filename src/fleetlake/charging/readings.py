"""Meter readings of a parked car: checked, kept, and fitted into the car's own curve.

A reading is a time with the session's energy delivered (kWh, as the charger's meter counts
it), the state of charge, the power, or any of them. Refused with a reason, kept, and never
folded into a plan: a lifetime meter register sent as the session's energy (the 900 kWh
sessions of OCPP back ends), energy or state of charge going backwards, a power above the
charger's. From the accepted ones the car's own power and taper are fitted by least squares:
power against state of charge is flat up to the taper, then falls linearly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

SLACK = 1.05  # meters and chargers round; 5 % over a limit is a reading, not an error
MIN_FIT_READINGS = 3


@dataclass(frozen=True)
class Reading:
    ts: datetime
    energy_kwh: float | None = None
    soc_pct: float | None = None
    power_kw: float | None = None


@dataclass(frozen=True)
class Fit:
    power_kw: float
    taper_start_pct: float | None
    taper_end_power_pct: float | None
    readings: int
    residual_kw: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "power_kw": round(self.power_kw, 3),
            "taper_start_pct": None
            if self.taper_start_pct is None
            else round(self.taper_start_pct, 1),
            "taper_end_power_pct": None
            if self.taper_end_power_pct is None
            else round(self.taper_end_power_pct, 1),
            "readings": self.readings,
            "residual_kw": round(self.residual_kw, 3),
        }


def check(
    reading: Reading,
    *,
    previous: Reading | None,
    plugged_at: datetime,
    now: datetime,
    capacity_kwh: float,
    start_soc_pct: float,
    efficiency: float,
    charger_kw: float,
) -> str | None:
    """Why this reading is refused, or None."""
    values = [v for v in (reading.energy_kwh, reading.soc_pct, reading.power_kw) if v is not None]
    if not values:
        return "a reading needs energy_kwh, soc_pct or power_kw"
    if any(not math.isfinite(v) or v < 0 for v in values):
        return "values must be finite and not negative"
    if not plugged_at <= reading.ts <= now:
        since = plugged_at.isoformat()
        return f"ts {reading.ts.isoformat()} is outside the session (plugged {since} until now)"
    room = capacity_kwh * (100.0 - start_soc_pct) / 100.0 / efficiency
    if reading.energy_kwh is not None and reading.energy_kwh > room * SLACK + 0.5:
        return (
            f"energy_kwh {reading.energy_kwh:g} exceeds what this battery can take in the session "
            f"({room:.1f} kWh): a lifetime meter register? send the session's energy"
        )
    if reading.soc_pct is not None and reading.soc_pct > 100:
        return f"soc_pct {reading.soc_pct:g} is above 100"
    if reading.power_kw is not None and reading.power_kw > charger_kw * SLACK:
        return f"power_kw {reading.power_kw:g} is above the charger's {charger_kw:g} kW"
    if previous is not None:
        if reading.ts <= previous.ts:
            return f"ts {reading.ts.isoformat()} is not after the last reading's"
        for name in ("energy_kwh", "soc_pct"):
            now_value, before = getattr(reading, name), getattr(previous, name)
            if now_value is not None and before is not None and now_value < before - 1e-9:
                return f"{name} went backwards ({before:g} → {now_value:g})"
    return None


def fit_curve(
    readings: list[Reading], *, capacity_kwh: float, start_soc_pct: float, efficiency: float
) -> Fit | None:
    """The car's own power and taper from its accepted readings (None with too few)."""
    points = power_points(readings, capacity_kwh=capacity_kwh, start_soc_pct=start_soc_pct,
                          efficiency=efficiency)  # fmt: skip
    if len(points) < MIN_FIT_READINGS:
        return None
    soc, power = np.array(points).T
    best: tuple[float, float, float | None, float | None] | None = None
    # Each reading's SoC as the taper start, highest first: on a tie the simpler curve wins.
    for knee in np.unique(np.concatenate(([101.0], soc)))[::-1]:
        flat, tail = soc <= knee, soc > knee
        if flat.sum() == 0:
            continue
        level = float(np.mean(power[flat]))
        predicted = np.full(soc.size, level)
        slope = None
        if tail.sum() >= 2:  # power = level · (1 - k (s - knee)), k by least squares
            x = soc[tail] - knee
            k = float(np.sum(x * (level - power[tail])) / (level * np.sum(x * x)))
            slope = max(0.0, k)
            predicted[tail] = level * (1 - slope * x)
        error = float(np.sqrt(np.mean((predicted - power) ** 2)))
        if best is None or error < best[0] - 1e-9:
            best = (error, level, None if slope is None else float(knee), slope)
    assert best is not None
    error, level, knee_pct, slope = best
    end = None
    if knee_pct is not None and slope is not None:
        end = max(1.0, min(100.0, 100.0 * (1 - slope * (100.0 - knee_pct))))
    return Fit(power_kw=level, taper_start_pct=knee_pct, taper_end_power_pct=end,
               readings=len(points), residual_kw=error)  # fmt: skip


def power_points(
    readings: list[Reading], *, capacity_kwh: float, start_soc_pct: float, efficiency: float
) -> list[tuple[float, float]]:
    """(state of charge, grid power) pairs: as reported, or from consecutive readings."""
    points = []
    for before, after in zip([None, *readings[:-1]], readings, strict=True):
        soc = after.soc_pct
        if soc is None and after.energy_kwh is not None:
            soc = start_soc_pct + 100.0 * after.energy_kwh * efficiency / capacity_kwh
        power = after.power_kw
        if power is None and before is not None and after.energy_kwh is not None:
            hours = (after.ts - before.ts).total_seconds() / 3600
            if before.energy_kwh is not None and hours > 0:
                power = (after.energy_kwh - before.energy_kwh) / hours
        if soc is not None and power is not None and power > 0:
            points.append((soc, power))
    return points
