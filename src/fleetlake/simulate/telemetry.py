"""A simulated EV fleet: the clean truth of every vehicle every `interval_s` seconds.

Each vehicle parks at home, drives to work and back on weekdays (GPS track, smoothly
varying speed, heading), parks at work, and charges at home when its battery is low, with
the power tapering above 80 %. Odometer only grows; SoC and energy follow distance and
charge (`energy_remaining_kwh = soc_pct / 100 * capacity_kwh`). Parked, a car reports no
speed (null, not 0) and gear P. Deterministic for a seed. Faults are added to a copy
(`telemetry_faults`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa

from fleetlake.telemetry.schema import TELEMETRY_SCHEMA

VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # no I, O, Q, as in real VINs
HOMES = ((45.0703, 7.6869), (50.0755, 14.4378), (53.5511, 9.9937), (52.52, 13.405))
KM_PER_DEG = 111.32


@dataclass
class Vehicle:
    vin: str
    capacity_kwh: float
    kwh_per_km: float
    charge_kw: float
    home: tuple[float, float]
    lat: float
    lon: float
    odometer_km: float
    soc_pct: float
    heading_deg: float = 0.0
    temp_c: float = 12.0


@dataclass
class Fleet:
    vehicles: list[Vehicle]
    interval_s: int
    seed: int
    days: list[date] = field(default_factory=list)


def make_fleet(*, vehicles: int, seed: int = 7, interval_s: int = 10) -> Fleet:
    rng = np.random.default_rng(seed)
    fleet = []
    for index in range(vehicles):
        home = HOMES[index % len(HOMES)]
        lat = home[0] + rng.normal(0, 0.03)
        lon = home[1] + rng.normal(0, 0.03)
        vin = "".join(rng.choice(list(VIN_CHARS), 11)) + f"{index:06d}"
        fleet.append(
            Vehicle(
                vin=vin,
                capacity_kwh=float(rng.choice([57.5, 75.0, 82.0, 100.0])),
                kwh_per_km=float(rng.uniform(0.14, 0.2)),
                charge_kw=float(rng.choice([7.4, 11.0, 22.0])),
                home=(lat, lon),
                lat=lat,
                lon=lon,
                odometer_km=float(rng.uniform(1_000, 80_000)),
                soc_pct=float(rng.uniform(40, 90)),
            )
        )
    return Fleet(fleet, interval_s, seed)


def simulate_day(fleet: Fleet, day: date) -> pa.Table:
    """Every vehicle's truth for one UTC day, sorted by vin then ts; state carries over."""
    fleet.days.append(day)
    tables = []
    for index, vehicle in enumerate(fleet.vehicles):
        rng = np.random.default_rng([fleet.seed, day.toordinal(), index])
        tables.append(_vehicle_day(vehicle, day, fleet.interval_s, rng))
    return pa.concat_tables(tables)


def _vehicle_day(v: Vehicle, day: date, interval_s: int, rng: np.random.Generator) -> pa.Table:
    steps = 86_400 // interval_s
    mode = np.zeros(steps, dtype=np.int8)  # 0 parked, 1 driving, 2 charging
    if day.weekday() < 5 or rng.random() < 0.4:
        for start_h, minutes in ((rng.normal(8, 0.7), rng.uniform(15, 50)),
                                 (rng.normal(17.5, 1.0), rng.uniform(15, 50))):  # fmt: skip
            first = int(np.clip(start_h, 5, 21) * 3600 / interval_s)
            mode[first : first + int(minutes * 60 / interval_s)] = 1
    speed = _speeds(mode == 1, interval_s, rng)
    columns = _integrate(v, mode, speed, interval_s, rng)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    ts = [start + timedelta(seconds=i * interval_s) for i in range(steps)]
    driving = mode == 1
    return (
        pa.table(
            {
                "vin": [v.vin] * steps,
                "ts": ts,
                "received_at": ts,  # delivery adds latency (telemetry_faults)
                "source": ["simulator"] * steps,
                **columns,
                "speed_kmh": pa.array(np.round(speed, 2), mask=~driving),
                "gear": pa.array(np.where(driving, "D", "P")),
                "extra": pa.nulls(steps, pa.string()),
            }
        )
        .select(TELEMETRY_SCHEMA.names)
        .cast(TELEMETRY_SCHEMA)
    )


def _speeds(driving: np.ndarray, interval_s: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth speeds (km/h) in each drive: a cruise level plus AR(1) noise, ramped ends."""
    speed = np.zeros(len(driving))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], driving.astype(np.int8), [0]])))
    for first, end in zip(edges[::2], edges[1::2], strict=True):
        n = end - first
        cruise = rng.uniform(35, 115)
        noise = np.zeros(n)
        shocks = rng.normal(0, 4, n)
        for i in range(1, n):
            noise[i] = 0.9 * noise[i - 1] + shocks[i]
        ramp = np.minimum(1.0, np.minimum(np.arange(1, n + 1), np.arange(n, 0, -1)) / 6)
        speed[first:end] = np.clip((cruise + noise) * ramp, 3, 160)
    return speed


def _integrate(
    v: Vehicle, mode: np.ndarray, speed: np.ndarray, interval_s: int, rng: np.random.Generator
) -> dict[str, pa.Array]:
    """Position, odometer, SoC, energy, charging, over the day's steps (state carried)."""
    n = len(mode)
    out = {name: np.zeros(n) for name in ("lat", "lon", "heading_deg", "odometer_km",
                                          "soc_pct", "range_km", "charge_power_kw")}  # fmt: skip
    charging_state = np.empty(n, dtype=object)
    plugged_until = -1
    for i in range(n):
        if mode[i] == 1:
            km = speed[i] * interval_s / 3600
            v.heading_deg = (v.heading_deg + rng.normal(0, 8)) % 360
            back = math.hypot(v.lat - v.home[0], v.lon - v.home[1]) > 0.25
            if back:  # wander no further than ~25 km from home
                v.heading_deg = math.degrees(math.atan2(v.home[1] - v.lon, v.home[0] - v.lat)) % 360
            v.lat += km * math.cos(math.radians(v.heading_deg)) / KM_PER_DEG
            v.lon += (
                km
                * math.sin(math.radians(v.heading_deg))
                / (KM_PER_DEG * math.cos(math.radians(v.lat)))
            )
            v.odometer_km += km
            v.soc_pct = max(1.0, v.soc_pct - km * v.kwh_per_km / v.capacity_kwh * 100)
        elif i > plugged_until and v.soc_pct < 50 and (i * interval_s) > 18 * 3600:
            plugged_until = n - 1  # plugged in for the night
        power = 0.0
        if plugged_until >= i and mode[i] != 1:
            taper = 1.0 if v.soc_pct < 80 else max(0.1, 1 - 0.9 * (v.soc_pct - 80) / 20)
            power = v.charge_kw * taper if v.soc_pct < 90 else 0.0
            v.soc_pct = min(90.0, v.soc_pct + power * interval_s / 3600 / v.capacity_kwh * 100)
            mode[i] = 2
            charging_state[i] = "charging" if power > 0 else "complete"
        else:
            charging_state[i] = "disconnected"
        for name, value in (("lat", v.lat), ("lon", v.lon), ("heading_deg", v.heading_deg),
                            ("odometer_km", v.odometer_km), ("soc_pct", v.soc_pct),
                            ("charge_power_kw", power)):  # fmt: skip
            out[name][i] = value
        out["range_km"][i] = v.soc_pct / 100 * v.capacity_kwh / v.kwh_per_km
    v.temp_c = float(rng.normal(12, 6))
    return {
        "lat": pa.array(np.round(out["lat"], 6)),
        "lon": pa.array(np.round(out["lon"], 6)),
        "heading_deg": pa.array(np.round(out["heading_deg"], 1)),
        "odometer_km": pa.array(np.round(out["odometer_km"], 3)),
        "soc_pct": pa.array(np.round(out["soc_pct"], 2)),
        "energy_remaining_kwh": pa.array(np.round(out["soc_pct"] / 100 * v.capacity_kwh, 3)),
        "range_km": pa.array(np.round(out["range_km"], 1)),
        "charging_state": pa.array(charging_state.astype(str)),
        "charge_power_kw": pa.array(np.round(out["charge_power_kw"], 2)),
        "outside_temp_c": pa.array(np.full(n, round(v.temp_c, 1))),
    }
