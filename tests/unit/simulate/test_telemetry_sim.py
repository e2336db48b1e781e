"""The simulated fleet obeys physics, and every fault is where its log says."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fleetlake.simulate.telemetry import make_fleet, simulate_day
from fleetlake.simulate.telemetry_faults import NO_FAULTS, FaultRates, deliver
from fleetlake.telemetry.schema import CHARGING_STATES, TELEMETRY_SCHEMA
from fleetlake.telemetry.units import KM_PER_MILE

DAY = date(2026, 11, 16)  # a Monday


@pytest.fixture(scope="module")
def truth() -> pa.Table:
    fleet = make_fleet(vehicles=6, seed=3)
    return pa.concat_tables([simulate_day(fleet, DAY), simulate_day(fleet, DAY + timedelta(1))])


def per_vehicle(table: pa.Table) -> dict[str, list[dict[str, object]]]:
    rows: dict[str, list[dict[str, object]]] = {}
    for row in table.sort_by([("vin", "ascending"), ("ts", "ascending")]).to_pylist():
        rows.setdefault(str(row["vin"]), []).append(row)
    return rows


def test_truth_is_physical(truth: pa.Table) -> None:
    assert truth.schema == TELEMETRY_SCHEMA
    assert truth.num_rows == 6 * 2 * 8640
    for rows in per_vehicle(truth).values():
        odometer = [r["odometer_km"] for r in rows]
        assert odometer == sorted(odometer)  # never decreases, across days too
        for before, after in itertools.pairwise(rows):
            km = after["odometer_km"] - before["odometer_km"]
            assert km <= (after["speed_kmh"] or 0) * 10 / 3600 + 1e-3  # distance = speed x time
        for row in rows:
            assert 0 < row["soc_pct"] <= 90 + 1e-9
            assert (row["speed_kmh"] is None) == (row["gear"] == "P")  # parked: no speed
            assert row["charging_state"] in CHARGING_STATES
            assert (row["charge_power_kw"] > 0) <= (row["charging_state"] == "charging")
            assert -90 <= row["lat"] <= 90 and -180 <= row["lon"] <= 180
        assert any(r["speed_kmh"] for r in rows), "a weekday has drives"


def test_no_faults_delivers_the_truth_with_latency(truth: pa.Table) -> None:
    delivered, log = deliver(truth, rates=NO_FAULTS, seed=1)
    assert log.num_rows == 0
    assert delivered.num_rows == truth.num_rows
    latency = pc.subtract(delivered["received_at"], delivered["ts"]).cast(pa.int64())
    assert pc.min(latency).as_py() >= 200_000 and pc.max(latency).as_py() <= 3_000_000
    order = [("vin", "ascending"), ("ts", "ascending")]
    same = delivered.drop_columns(["received_at"]).sort_by(order)
    assert same == truth.drop_columns(["received_at"]).sort_by(order)


def test_each_fault_is_where_its_log_says(truth: pa.Table) -> None:
    rates = FaultRates(**dict.fromkeys(FaultRates().shares(), 0.002))
    delivered, log = deliver(truth, rates=rates, seed=5)
    kinds = log["kind"].to_pylist()
    assert {k: kinds.count(k) for k in set(kinds)} == dict.fromkeys(rates.shares(), 207)
    true_rows = {(r["vin"], r["ts"]): r for r in truth.to_pylist()}
    got: dict[tuple[object, object], list[dict[str, object]]] = {}
    ahead: dict[object, list[dict[str, Any]]] = {}  # clock skew: ts past its receipt
    for row in delivered.to_pylist():
        if row["ts"] > row["received_at"]:
            ahead.setdefault(row["vin"], []).append(row)
        else:
            got.setdefault((row["vin"], row["ts"]), []).append(row)
    for fault in log.to_pylist():
        key, kind = (fault["vin"], fault["ts"]), fault["kind"]
        real = true_rows[key]
        if kind == "clock_skew":
            [skewed] = [
                r for r in ahead[real["vin"]]
                if timedelta(0) < r["received_at"] - real["ts"] <= timedelta(seconds=3)
            ]  # fmt: skip
            assert skewed["ts"] - real["ts"] in [timedelta(hours=h) for h in range(1, 7)]
            assert key not in got
            continue
        [*copies] = got[key]
        row = copies[0]
        if kind == "duplicate":
            assert len(copies) == 2 and copies[0]["speed_kmh"] == copies[1]["speed_kmh"]
        elif kind == "gps_jump":
            assert 0.5 <= abs(row["lat"] - real["lat"]) <= 1.5
        elif kind == "speed_spike":
            assert row["speed_kmh"] >= 300
        elif kind == "unit_flip":
            assert row["odometer_km"] == pytest.approx(real["odometer_km"] / KM_PER_MILE)
        elif kind == "late":
            assert (row["received_at"] - row["ts"]).total_seconds() >= 7200
        elif kind == "null":
            emptied = {name for name in row if row[name] is None and real[name] is not None}
            assert emptied == set(fault["fields"].split(","))
    assert delivered.num_rows == truth.num_rows + kinds.count("duplicate")
