"""Simulated methane sensors on a template: background with tide and day cycles, noise,
drift, spikes and dropouts, and leaks from the same box model the estimate fits
(`monitoring.leak`), so a test knows the truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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


TEMPLATE_GEOMETRY: dict[str, Any] = {
    "internal_volume_m3": 800.0, "length_m": 12.0, "width_m": 10.0, "height_m": 6.0,
    "angle_from_north_deg": 0.0, "porosity": 0.3, "wall_area_m2": 500.0, "inclination_deg": 0.0,
}  # fmt: skip
# Not all in one plane: four coplanar sensors cannot tell a source from its mirror image.
CORNERS = [(1.0, 1.0, 1.0), (11.0, 1.0, 5.0), (1.0, 9.0, 5.0), (11.0, 9.0, 1.0),
           (6.0, 5.0, 3.0), (6.0, 1.0, 5.0)]  # fmt: skip


@dataclass(frozen=True)
class Site:
    model: Path
    readings: Path
    truth: Path
    rows: int
    leaks: int


def simulate_site(
    out: Path, *, templates: int = 2, sensors: int = 4, days: float = 8.0, period_s: float = 60,
    leaks: int = 1, leak_kg_h: float = 2.0, start: datetime, seed: int = 1,
) -> Site:  # fmt: skip
    """A platform of templates with sensors, their readings (CSV, sensors by source_id) and
    the truth: which template leaks, how much, from where, since when (in the last day)."""
    import csv
    import json

    rng = np.random.default_rng(seed)
    geometry = Geometry(800.0, 12.0, 10.0, 6.0, porosity=(0.3,), wall_area_m2=(500.0,))
    model: dict[str, Any] = {"platforms": [{"name": "Simulated A", "description": "simulated",
                                            "templates": []}]}  # fmt: skip
    truth: list[dict[str, Any]] = []
    out.mkdir(parents=True, exist_ok=True)
    readings = out / "readings.csv"
    rows = 0
    with readings.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sensor", "ts", "ppmv"])
        for t in range(templates):
            positions = np.array(CORNERS[:sensors])
            names = [f"sim-T{t + 1}-S{k + 1}" for k in range(sensors)]
            placed = [{"name": f"S{k + 1}", "source_id": names[k], "x_m": x, "y_m": y, "z_m": z}
                      for k, (x, y, z) in enumerate(positions.tolist())]  # fmt: skip
            model["platforms"][0]["templates"].append(
                {"name": f"T{t + 1}", **TEMPLATE_GEOMETRY, "sensors": placed}
            )
            leak = None
            if t < leaks:
                at = start + timedelta(days=days - 1, hours=float(rng.uniform(2, 12)))
                source = (float(rng.uniform(1, 11)), float(rng.uniform(1, 9)), 1.0)
                leak = Leak(leak_kg_h, source, at)
                truth.append({"template": f"T{t + 1}", "rate_kg_h": leak_kg_h,
                              "source": dict(zip(("x_m", "y_m", "z_m"), source, strict=True)),
                              "start": at.isoformat()})  # fmt: skip
            series = sensor_readings(positions, geometry=geometry, physics=Physics(), start=start,
                                     hours=days * 24, period_s=period_s, leak=leak,
                                     noise=Noise(dropout_share=0.002), seed=seed + t)  # fmt: skip
            for name, (times, values) in zip(names, series, strict=True):
                writer.writerows((name, ts.isoformat(), f"{v:.4f}") for ts, v in zip(
                    times, values, strict=True))  # fmt: skip
                rows += len(times)
    (out / "model.json").write_text(json.dumps(model, indent=1))
    (out / "truth.json").write_text(json.dumps({"leaks": truth}, indent=1))
    return Site(out / "model.json", readings, out / "truth.json", rows, len(truth))


def site_timeseries(readings: Path, *, bad_share: float = 0.001, seed: int = 1) -> list[Any]:
    """The site's readings as Omnia-shaped timeseries (ids are the sensors' source_id, times
    to the millisecond); `bad_share` of the datapoints carry a bad-quality status."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    from fleetlake.simulate.omnia_api import Timeseries

    types = {"sensor": pa.string(), "ts": pa.string(), "ppmv": pa.float64()}
    table = pcsv.read_csv(readings, convert_options=pcsv.ConvertOptions(column_types=types))
    rng = np.random.default_rng(seed)
    found = []
    for name in sorted(set(table["sensor"].to_pylist())):
        rows = table.filter(pc.equal(table["sensor"], name))
        moments = [datetime.fromisoformat(t) for t in rows["ts"].to_pylist()]
        times = [t.replace(microsecond=t.microsecond // 1000 * 1000) for t in moments]
        statuses = np.where(rng.random(len(times)) < bad_share, 0, 192).tolist()
        found.append(Timeseries(name, name, "ppm", times, rows["ppmv"].to_pylist(), statuses))
    return found
