"""What silver and gold must hold, computed from a simulation's truth and fault log alone."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from fleetlake.simulate.telemetry_faults import OUTCOMES

REASON_OF = {"clock_skew": "future", "speed_spike": "speed_over_max",
             "unit_flip": "odometer_decreasing", "gps_jump": "gps_jump"}  # fmt: skip


def read_truth(folder: Path, kind: str) -> list[dict[str, Any]]:
    """Rows of `_truth/<kind>-*.parquet` (kind: truth or faults) under a simulation's folder."""
    paths = sorted((folder / "_truth").glob(f"{kind}-*.parquet"))
    return [row for path in paths for row in pq.read_table(path).to_pylist()]


def expected_silver(folders: list[Path]) -> list[dict[str, Any]]:
    """The true rows less the quarantined faults, the fields a null fault emptied as null."""
    rows = []
    for folder in folders:
        faults = read_truth(folder, "faults")
        dropped = {(f["vin"], f["ts"]) for f in faults if OUTCOMES[f["kind"]] == "quarantined"}
        emptied = {
            (f["vin"], f["ts"]): f["fields"].split(",") for f in faults if f["kind"] == "null"
        }
        for row in read_truth(folder, "truth"):
            key = (row["vin"], row["ts"])
            if key in dropped:
                continue
            for name in emptied.get(key, []):
                row[name] = None
            rows.append(row)
    return sorted(rows, key=lambda r: (r["vin"], r["ts"]))


def expected_dropped(folders: list[Path]) -> dict[str, int]:
    """Silver's dropped rows by reason: one per quarantined fault, one per duplicate."""
    counts: dict[str, int] = defaultdict(int)
    for folder in folders:
        for fault in read_truth(folder, "faults"):
            if fault["kind"] in REASON_OF:
                counts[REASON_OF[fault["kind"]]] += 1
            elif fault["kind"] == "duplicate":
                counts["duplicate"] += 1
    return dict(counts)


def expected_top(rows: list[dict[str, Any]], day: date) -> list[tuple[Any, ...]]:
    """(hour, rank, vin, speed_kmh, ts) of the 10 fastest vehicles of each hour of `day`."""
    best: dict[tuple[str, datetime], dict[str, Any]] = {}
    for row in rows:
        if row["speed_kmh"] is None or row["ts"].date() != day:
            continue
        key = (row["vin"], row["ts"].replace(minute=0, second=0, microsecond=0))
        held = best.get(key)
        if held is None or (-row["speed_kmh"], row["ts"]) < (-held["speed_kmh"], held["ts"]):
            best[key] = row
    by_hour: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for (_, hour), row in best.items():
        by_hour[hour].append(row)
    ranked = []
    for hour in sorted(by_hour):
        order = sorted(by_hour[hour], key=lambda r: (-r["speed_kmh"], r["ts"], r["vin"]))
        ranked += [
            (hour, n, r["vin"], r["speed_kmh"], r["ts"]) for n, r in enumerate(order[:10], 1)
        ]
    return ranked


def expected_last_state(
    rows: list[dict[str, Any]], measures: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """Per VIN: each measure's latest non-null value and its time (position as a pair)."""
    state: dict[str, dict[str, Any]] = {}
    for row in rows:  # sorted by vin, ts
        mine = state.setdefault(row["vin"], {})
        mine["last_ts"] = row["ts"]
        for name in measures:
            present = row[name] is not None
            if name in ("lat", "lon"):
                present = row["lat"] is not None and row["lon"] is not None
            if present:
                mine[name], mine[f"{name}_at"] = row[name], row["ts"]
    return state
