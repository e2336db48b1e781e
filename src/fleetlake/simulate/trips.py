"""Synthetic trips CSV: several cities, commute peaks, repeated routes, optional bad rows.

Vectorised (numpy + pyarrow) and deterministic for a given seed and row count.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleetlake.trips.schema import CSV_HEADER


@dataclass(frozen=True)
class City:
    name: str
    lon: float
    lat: float
    radius_deg: float
    weight: float


CITIES = (
    City("Turin", 7.6869, 45.0703, 0.06, 1.0),
    City("Prague", 14.4378, 50.0755, 0.08, 1.2),
    City("Hamburg", 9.9937, 53.5511, 0.09, 1.1),
    City("Milan", 9.1900, 45.4642, 0.07, 1.3),
    City("Barcelona", 2.1734, 41.3851, 0.06, 1.0),
    City("Berlin", 13.4050, 52.5200, 0.11, 1.4),
)
DATASOURCES = ("funny_car", "baba_car", "cheap_mobile", "bad_diesel_vehicles", "pt_search_app")
HOTSPOTS_PER_CITY = 40
BAD_KINDS = ("columns", "point", "datetime", "region", "latitude")
BATCH_ROWS = 500_000


@dataclass
class SimulatedTrips:
    path: Path
    rows: int
    bad_rows: int
    by_region: dict[str, int]


def simulate_trips(
    *,
    rows: int,
    out: Path,
    seed: int = 7,
    bad_share: float = 0.0,
    start: datetime = datetime(2018, 5, 1, tzinfo=UTC),
    weeks: int = 8,
) -> SimulatedTrips:
    """Write `rows` data lines (plus the header) to `out` (.csv or .csv.gz)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    hotspots = _hotspots(np.random.default_rng(seed))
    by_region: dict[str, int] = {}
    bad_total = 0
    handle: BinaryIO
    with _open_out(out) as handle:
        handle.write((",".join(CSV_HEADER) + "\n").encode())
        for batch_index, first in enumerate(range(0, rows, BATCH_ROWS)):
            rng = np.random.default_rng([seed, batch_index])
            count = min(BATCH_ROWS, rows - first)
            lines, regions, bad = _batch(rng, count, hotspots, bad_share, start, weeks)
            _write_lines(handle, lines)
            bad_total += int(bad.sum())
            for name, n in zip(*np.unique(regions[~bad], return_counts=True), strict=True):
                by_region[str(name)] = by_region.get(str(name), 0) + int(n)
    return SimulatedTrips(out, rows, bad_total, by_region)


def _hotspots(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per city: hotspot centres and a skewed popularity, so that routes repeat."""
    city = np.repeat(np.arange(len(CITIES)), HOTSPOTS_PER_CITY)
    radius = np.array([c.radius_deg for c in CITIES])[city]
    lon = np.array([c.lon for c in CITIES])[city] + rng.normal(0, 1, city.size) * radius
    lat = np.array([c.lat for c in CITIES])[city] + rng.normal(0, 1, city.size) * radius * 0.7
    popularity = rng.pareto(1.2, city.size) + 0.05
    return {"city": city, "lon": lon, "lat": lat, "popularity": popularity}


def _pick_hotspots(
    rng: np.random.Generator, city: np.ndarray, hotspots: dict[str, np.ndarray]
) -> np.ndarray:
    offsets = np.empty(city.size, dtype=np.int64)
    for index in range(len(CITIES)):
        mask = city == index
        weights = hotspots["popularity"][
            index * HOTSPOTS_PER_CITY : (index + 1) * HOTSPOTS_PER_CITY
        ]
        offsets[mask] = rng.choice(
            HOTSPOTS_PER_CITY, size=int(mask.sum()), p=weights / weights.sum()
        )
    chosen: np.ndarray = city * HOTSPOTS_PER_CITY + offsets
    return chosen


def _seconds_of_day(rng: np.random.Generator, count: int) -> np.ndarray:
    """Commute peaks at 08:00 and 17:30 over a flat background."""
    kind = rng.choice(3, size=count, p=[0.35, 0.35, 0.30])
    morning = rng.normal(8 * 3600, 3600, count)
    evening = rng.normal(17.5 * 3600, 4200, count)
    flat = rng.uniform(0, 86400, count)
    seconds: np.ndarray = np.select([kind == 0, kind == 1], [morning, evening], flat)
    clipped: np.ndarray = np.clip(seconds, 0, 86399).astype(np.int64)
    return clipped


def _batch(
    rng: np.random.Generator,
    count: int,
    hotspots: dict[str, np.ndarray],
    bad_share: float,
    start: datetime,
    weeks: int,
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    weights = np.array([c.weight for c in CITIES])
    city = rng.choice(len(CITIES), size=count, p=weights / weights.sum())
    origin, destination = _pick_hotspots(rng, city, hotspots), _pick_hotspots(rng, city, hotspots)
    # A trip goes somewhere: a destination drawn equal to the origin moves to another hotspot.
    same = origin == destination
    shift = rng.integers(1, HOTSPOTS_PER_CITY, count)
    destination = np.where(
        same,
        city * HOTSPOTS_PER_CITY + (origin % HOTSPOTS_PER_CITY + shift) % HOTSPOTS_PER_CITY,
        destination,
    )
    jitter = 0.003  # about 300 m: trips start near, not at, a hotspot
    o_lon = hotspots["lon"][origin] + rng.normal(0, jitter, count)
    o_lat = hotspots["lat"][origin] + rng.normal(0, jitter, count)
    d_lon = hotspots["lon"][destination] + rng.normal(0, jitter, count)
    d_lat = hotspots["lat"][destination] + rng.normal(0, jitter, count)
    day = rng.integers(0, weeks * 7, count)
    epoch = int(start.timestamp()) + day * 86400 + _seconds_of_day(rng, count)
    moment = pa.array(epoch.astype("datetime64[s]"))
    regions = np.array([c.name for c in CITIES])[city]
    columns = [
        pa.array(regions),
        _points(o_lon, o_lat),
        _points(d_lon, d_lat),
        pc.strftime(moment, format="%Y-%m-%d %H:%M:%S"),
        pa.array(np.array(DATASOURCES)[rng.integers(0, len(DATASOURCES), count)]),
    ]
    bad = rng.random(count) < bad_share
    kind = rng.integers(0, len(BAD_KINDS), count)
    if bad.any():
        columns = _spoil(columns, bad, kind)
    lines = pc.binary_join_element_wise(*columns, ",")
    if bad.any():
        short = pc.binary_join_element_wise(columns[0], columns[1], ",")
        lines = pc.if_else(pa.array(bad & (kind == 0)), short, lines)
    return lines, regions, bad


def _points(lon: np.ndarray, lat: np.ndarray) -> pa.Array:
    text_lon = pc.cast(pa.array(np.round(lon, 12)), pa.string())
    text_lat = pc.cast(pa.array(np.round(lat, 12)), pa.string())
    return pc.binary_join_element_wise("POINT (", text_lon, " ", text_lat, ")", "")


def _spoil(columns: list[pa.Array], bad: np.ndarray, kind: np.ndarray) -> list[pa.Array]:
    """Each bad row gets exactly one realistic defect (the column-count one is applied later)."""
    region, origin, destination, moment, source = columns

    def where(k: int) -> pa.Array:
        return pa.array(bad & (kind == k))

    origin = pc.if_else(where(1), pa.scalar("POINT (seven forty-five)"), origin)
    moment = pc.if_else(where(2), pa.scalar("2018-02-30 25:61:00"), moment)
    region = pc.if_else(where(3), pa.scalar(""), region)
    destination = pc.if_else(where(4), pa.scalar("POINT (9.1 123.4)"), destination)
    return [region, origin, destination, moment, source]


def _open_out(out: Path) -> BinaryIO:
    if out.name.endswith(".gz"):
        return gzip.open(out, "wb")  # type: ignore[return-value]
    return out.open("wb")


def _write_lines(handle: BinaryIO, lines: pa.Array) -> None:
    text = "\n".join(lines.to_pylist())
    handle.write(text.encode())
    handle.write(b"\n")
