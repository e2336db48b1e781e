"""Simulated methane sensors on a template: background with tide and day cycles, noise,
drift, spikes and dropouts, and leaks from the same box model the estimate fits
(`monitoring.leak`), so a test knows the truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from fleetlake.monitoring.leak import CH4_KG_PER_NM3, Geometry, Physics, sensor_rise_ppmv

TIDE_H = 12.42  # the principal lunar tide
BACKGROUND_PPMV = 2.0


@dataclass(frozen=True)
class Leak:
    rate_kg_h: float
    source_xyz: tuple[float, float, float]
    start: datetime


@dataclass(frozen=True)
class Noise:
    noise_ppmv: float = 0.02
    tide_ppmv: float = 0.15
    day_ppmv: float = 0.05
    drift_ppmv_per_day: float = 0.0
    spikes_per_day: float = 0.0
    spike_ppmv: float = 1.0
    dropout_share: float = 0.0


def sensor_readings(
    sensors_xyz: np.ndarray, *, geometry: Geometry, physics: Physics, start: datetime,
    hours: float, period_s: float, leak: Leak | None = None, noise: Noise = Noise(),
    seed: int = 0,
) -> list[tuple[list[datetime], np.ndarray]]:  # fmt: skip
    """Per sensor, its reading times and ppmv (dropouts left out)."""
    rng = np.random.default_rng(seed)
    steps = int(hours * 3600 / period_s)
    offsets_h = np.arange(steps) * period_s / 3600
    base = (BACKGROUND_PPMV + noise.tide_ppmv * np.sin(2 * np.pi * offsets_h / TIDE_H)
            + noise.day_ppmv * np.sin(2 * np.pi * offsets_h / 24))  # fmt: skip
    found = []
    for xyz in np.asarray(sensors_xyz, dtype=float):
        values = base + rng.normal(0, noise.noise_ppmv, steps) + rng.normal(0, 0.05)
        values = values + noise.drift_ppmv_per_day * offsets_h / 24
        spikes = rng.random(steps) < noise.spikes_per_day * period_s / 86400
        values[spikes] += noise.spike_ppmv * rng.uniform(0.5, 1.5, int(spikes.sum()))
        if leak is not None:
            since_h = (leak.start - start).total_seconds() / 3600
            values += sensor_rise_ppmv(
                offsets_h, xyz[None, :], rate_nm3_h=leak.rate_kg_h / CH4_KG_PER_NM3,
                source_xyz=np.array(leak.source_xyz), start_h=since_h, geometry=geometry,
                physics=physics)[0]  # fmt: skip
        kept = rng.random(steps) >= noise.dropout_share
        times = [start + timedelta(hours=float(h)) for h in offsets_h[kept]]
        found.append((times, np.maximum(values[kept], 0.0)))
    return found
