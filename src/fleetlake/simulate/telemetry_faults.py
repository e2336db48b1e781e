"""The faults real telemetry feeds have, added to a simulated truth, with their log.

Every fault is one row of the log (`vin`, `ts` of the true observation, `kind`, `outcome`):
what silver must do with it is part of the truth. Faulted rows are at least three rows
apart in a vehicle's stream, never its first or last, so each can be told from its
neighbours.

| kind | what is delivered | outcome |
|---|---|---|
| duplicate | the message again, later | one row kept |
| out_of_order | delivered after later messages | kept, sorted |
| late | delivered hours later | kept |
| null | one to three measures null | kept with the nulls |
| gps_jump | the position 0.5-1.5 degrees off | quarantined: gps_jump |
| speed_spike | a speed of 300-900 km/h | quarantined: speed |
| unit_flip | the odometer in miles | quarantined: odometer |
| clock_skew | the vehicle's clock hours ahead | quarantined: future |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleetlake.telemetry.units import KM_PER_MILE

OUTCOMES = {
    "duplicate": "kept",
    "out_of_order": "kept",
    "late": "kept",
    "null": "kept",
    "gps_jump": "quarantined",
    "speed_spike": "quarantined",
    "unit_flip": "quarantined",
    "clock_skew": "quarantined",
}
NULLABLE = ("lat", "soc_pct", "range_km", "outside_temp_c", "heading_deg")
FAULTS_SCHEMA = pa.schema(
    [
        ("vin", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("kind", pa.string()),
        ("outcome", pa.string()),
        ("fields", pa.string()),  # the measures a `null` fault emptied, comma-separated
    ]
)


@dataclass(frozen=True)
class FaultRates:
    """The share of messages given each fault (0 turns one off)."""

    duplicate: float = 0.002
    out_of_order: float = 0.002
    late: float = 0.001
    null: float = 0.002
    gps_jump: float = 0.0005
    speed_spike: float = 0.0005
    unit_flip: float = 0.0003
    clock_skew: float = 0.0003

    def shares(self) -> dict[str, float]:
        return {kind: getattr(self, kind) for kind in OUTCOMES}


NO_FAULTS = FaultRates(**dict.fromkeys(OUTCOMES, 0.0))


def deliver(truth: pa.Table, *, rates: FaultRates, seed: int) -> tuple[pa.Table, pa.Table]:
    """(the messages as delivered, in order of receipt; the fault log). `truth` is sorted by
    vin then ts; its `received_at` becomes ts plus a 0.2-3 s latency, then the faults apply."""
    rng = np.random.default_rng([seed, 99])
    n = truth.num_rows
    latency = rng.uniform(0.2, 3.0, n)
    columns = {name: truth[name].to_numpy(zero_copy_only=False) for name in truth.column_names}
    received = columns["ts"].astype("datetime64[us]") + (latency * 1e6).astype("timedelta64[us]")
    kinds = _pick_rows(truth, rng, rates)
    extra_rows: list[int] = []
    nulled: dict[int, str] = {}
    for index, kind in kinds.items():
        nulled[index] = _apply(kind, index, columns, received, rng, extra_rows)
    columns["received_at"] = received
    table = pa.table(  # NaN from numpy is a null again (the truth has no NaN)
        [pa.array(columns[f.name], f.type, from_pandas=True) for f in truth.schema],
        schema=truth.schema,
    )
    duplicates = table.take(pa.array(extra_rows, pa.int64())) if extra_rows else table.slice(0, 0)
    if extra_rows:
        later = pc.add(duplicates["received_at"], pa.scalar(timedelta(seconds=30)))
        position = duplicates.schema.get_field_index("received_at")
        duplicates = duplicates.set_column(position, truth.schema.field("received_at"), later)
    delivered = pa.concat_tables([table, duplicates]).sort_by([("received_at", "ascending")])
    return delivered, _fault_log(truth, kinds, nulled)


def _pick_rows(truth: pa.Table, rng: np.random.Generator, rates: FaultRates) -> dict[int, str]:
    """Row index → fault kind: spaced three rows apart, never a vehicle's first or last."""
    vins = truth["vin"].to_numpy(zero_copy_only=False)
    speeds = truth["speed_kmh"].is_valid().to_numpy(zero_copy_only=False)
    edge = np.zeros(len(vins), dtype=bool)
    edge[0] = edge[-1] = True
    edge[1:] |= vins[1:] != vins[:-1]
    edge[:-1] |= vins[:-1] != vins[1:]
    chosen: dict[int, str] = {}
    taken = np.zeros(len(vins), dtype=bool)
    for kind, share in rates.shares().items():
        candidates = np.flatnonzero(~edge & (speeds if kind == "speed_spike" else True))
        count = round(share * len(vins))
        for index in rng.permutation(candidates)[: count * 3]:
            if count == 0:
                break
            if taken[max(0, index - 3) : index + 4].any():
                continue
            chosen[int(index)], taken[index] = kind, True
            count -= 1
    return chosen


def _apply(
    kind: str,
    i: int,
    columns: dict[str, np.ndarray],
    received: np.ndarray,
    rng: np.random.Generator,
    extra_rows: list[int],
) -> str:
    """Apply one fault; the names of the measures it emptied (for `null`), else ""."""
    second = np.timedelta64(1_000_000, "us")
    if kind == "duplicate":
        extra_rows.append(i)
    elif kind == "out_of_order":
        received[i] += second * int(rng.integers(30, 120))
    elif kind == "late":
        received[i] += second * 3600 * int(rng.integers(2, 30))
    elif kind == "null":
        names = sorted(str(n) for n in rng.choice(NULLABLE, int(rng.integers(1, 4)), replace=False))
        for name in names:
            columns[name] = columns[name].astype(object)
            columns[name][i] = None
        return ",".join(names)
    elif kind == "gps_jump":
        columns["lat"] = columns["lat"].astype(object)
        columns["lat"][i] = float(columns["lat"][i]) + float(
            rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)
        )
    elif kind == "speed_spike":
        columns["speed_kmh"] = columns["speed_kmh"].astype(object)
        columns["speed_kmh"][i] = float(rng.uniform(300, 900))
    elif kind == "unit_flip":
        columns["odometer_km"][i] = columns["odometer_km"][i] / KM_PER_MILE
    elif kind == "clock_skew":
        columns["ts"] = columns["ts"].astype("datetime64[us]")
        columns["ts"][i] += second * 3600 * int(rng.integers(1, 7))
    return ""


def _fault_log(truth: pa.Table, kinds: dict[int, str], nulled: dict[int, str]) -> pa.Table:
    order = sorted(kinds)
    rows = truth.take(pa.array(order, pa.int64())).select(["vin", "ts"]) if order else None
    return pa.table(
        {
            "vin": rows["vin"] if rows is not None else pa.array([], pa.string()),
            "ts": rows["ts"] if rows is not None else pa.array([], FAULTS_SCHEMA.field("ts").type),
            "kind": [kinds[i] for i in order],
            "outcome": [OUTCOMES[kinds[i]] for i in order],
            "fields": [nulled.get(i, "") for i in order],
        },
        schema=FAULTS_SCHEMA,
    )
