"""Silver against the simulator's truth: every fault accounted for, incremental = full."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fleetlake.platform.lake import Lake
from fleetlake.simulate.telemetry_faults import FaultRates
from fleetlake.simulate.telemetry_run import FleetSpec, write_files
from fleetlake.telemetry.bronze import BronzeBuffers
from fleetlake.telemetry.compaction import compact
from fleetlake.telemetry.files import read_messages
from fleetlake.telemetry.ingest import land
from fleetlake.telemetry.providers import adapter_for
from fleetlake.telemetry.silver import SilverRules, run_silver
from fleetlake.telemetry.silver_hours import SILVER, SILVER_QUARANTINE
from tests.telemetry_truth import expected_dropped

RULES = SilverRules(lookback_s=0)
RATES = FaultRates(**dict.fromkeys(FaultRates().shares(), 0.003))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    write_files(out, FleetSpec(4, 2, date(2026, 11, 16), seed=11, rates=RATES))
    return out


def land_files(lake: Lake, files: list[Path]) -> None:
    for path in files:
        result = {"source": str(path), "messages": 0, "rows_loaded": 0, "rows_quarantined": 0}
        land(read_messages(path), adapter=adapter_for("canonical"),
             buffers=BronzeBuffers(lake), result=result)  # fmt: skip


def vehicle_hours(lake: Lake, folder: str) -> set[tuple[str, Any]]:
    rows = pa.concat_tables(
        pq.read_table(p, columns=["vin", "ts"]) for p in lake.list_files(folder)
    )
    hours = pc.floor_temporal(rows["ts"], unit="hour").to_pylist()
    return set(zip(rows["vin"].to_pylist(), hours, strict=True))


def table(lake: Lake, *parts: str) -> pa.Table:
    files = lake.list_files(*parts)
    return pa.concat_tables(pq.read_table(f) for f in files) if files else pa.table({})


def truth_of(simulated: Path, kind: str) -> pa.Table:
    return pa.concat_tables(
        pq.read_table(p) for p in sorted((simulated / "_truth").glob(f"{kind}-*"))
    )


def test_silver_is_the_truth_less_every_fault(simulated: Path, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    land_files(lake, sorted(simulated.glob("*.ndjson")))
    result = run_silver(lake, rules=RULES)
    faults = truth_of(simulated, "faults").to_pylist()
    truth = {(r["vin"], r["ts"]): r for r in truth_of(simulated, "truth").to_pylist()}
    dropped_keys = {(f["vin"], f["ts"]) for f in faults if f["outcome"] == "quarantined"}
    silver = {(r["vin"], r["ts"]): r for r in table(lake, *SILVER).to_pylist()}
    assert set(silver) == set(truth) - dropped_keys
    nulled = {(f["vin"], f["ts"]) for f in faults if f["kind"] == "null"}
    for key, row in silver.items():
        for name, value in truth[key].items():
            if name == "received_at":
                continue
            if key in nulled and row[name] is None:
                continue  # the fault nulled it: kept as null, not guessed
            same = value == row[name] or (
                isinstance(value, float) and math.isclose(value, row[name])
            )
            assert same, (key, name, value, row[name])
    expected = Counter(expected_dropped([simulated]))
    assert result.dropped == dict(expected)
    quarantined = Counter(table(lake, *SILVER_QUARANTINE)["reason"].to_pylist())
    assert quarantined == expected
    for row in table(lake, *SILVER).to_pylist():  # sorted, one row per ts
        assert row["speed_kmh"] is None or row["speed_kmh"] <= 250


def test_incremental_runs_equal_a_full_refresh(simulated: Path, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    files = sorted(simulated.glob("*.ndjson"))
    runs: list[dict[str, Any]] = []
    for path in files:  # a day at a time, late files last, compaction in between
        land_files(lake, [path])
        runs.append(run_silver(lake, rules=RULES).to_dict())
        compact(lake, before=date(2026, 11, 18))
    run_silver(lake, rules=RULES)  # takes in the last compaction's files
    assert run_silver(lake, rules=RULES).vehicle_hours == 0  # nothing new, nothing redone
    vin = table(lake, *SILVER)["vin"][0].as_py()
    late = tmp_path / "late.ndjson"
    late.write_text(f'{{"vin": "{vin}", "ts": "2026-11-17T12:00:05Z", "speed_kmh": 20}}\n')
    land_files(lake, [late])
    one = run_silver(lake, rules=RULES)
    noon = datetime(2026, 11, 17, 12, tzinfo=UTC)
    assert one.changed == {(vin, noon)}  # its neighbours' edges judged the same
    incremental = {p: pq.read_table(p) for p in lake.list_files("silver")}
    full = run_silver(lake, rules=RULES, full_refresh=True)
    assert full.vehicle_hours >= len(vehicle_hours(lake, "bronze"))
    assert vehicle_hours(lake, "silver") == vehicle_hours(lake, "bronze")  # each one judged
    after = {p: pq.read_table(p) for p in lake.list_files("silver")}
    assert sorted(after) == sorted(incremental)
    for path, content in after.items():
        assert content.equals(incremental[path]), path


def test_a_later_day_can_expose_a_jump_at_the_end_of_the_day_before(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    fixes = [("2026-11-16T23:59:30Z", 45.0), ("2026-11-16T23:59:40Z", 45.0001),
             ("2026-11-16T23:59:50Z", 46.2)]  # fmt: skip
    first = tmp_path / "a.ndjson"
    line = '{{"vin": "J1", "ts": "{}", "lat": {}, "lon": 7.0}}\n'.format
    first.write_text("".join(line(ts, lat) for ts, lat in fixes))
    land_files(lake, [first])
    run_silver(lake, rules=RULES)
    assert table(lake, *SILVER).num_rows == 3  # no row after the jump yet: it stands
    second = tmp_path / "b.ndjson"
    second.write_text('{"vin": "J1", "ts": "2026-11-17T00:00:00Z", "lat": 45.0002, "lon": 7.0}\n')
    land_files(lake, [second])
    later = run_silver(lake, rules=RULES)
    assert sorted(later.changed) == [("J1", datetime(2026, 11, 16, 23, tzinfo=UTC)),
                                     ("J1", datetime(2026, 11, 17, tzinfo=UTC))]  # fmt: skip
    assert table(lake, *SILVER_QUARANTINE)["reason"].to_pylist() == ["gps_jump"]
    incremental = {p: pq.read_table(p) for p in lake.list_files("silver")}
    run_silver(lake, rules=RULES, full_refresh=True)
    assert {p: pq.read_table(p) for p in lake.list_files("silver")}.keys() == incremental.keys()
    for path, content in incremental.items():
        assert pq.read_table(path).equals(content)
