"""Gold against an independent computation from the simulator's truth."""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleetlake.platform.lake import Lake
from fleetlake.simulate.telemetry_faults import FaultRates
from fleetlake.simulate.telemetry_run import FleetSpec, write_files
from fleetlake.telemetry.gold import GOLD, run_gold
from fleetlake.telemetry.models import vehicle_state
from fleetlake.telemetry.schema import MEASURES
from fleetlake.telemetry.silver import SilverRules, run_silver
from tests.integration.telemetry.test_silver import land_files
from tests.telemetry_truth import expected_silver, expected_top

# Every fault but nulls (their fields are not in the log): the kept rows are exactly true.
RATES = FaultRates(**dict.fromkeys(FaultRates().shares(), 0.003) | {"null": 0.0})
DAYS = (date(2026, 11, 16), date(2026, 11, 17))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    write_files(out, FleetSpec(5, 2, DAYS[0], seed=5, rates=RATES))
    return out


def test_gold_tables_and_last_state(simulated: Path, tmp_path: Path, engine: sa.Engine) -> None:
    lake = Lake(str(tmp_path / "lake"))
    land_files(lake, sorted(simulated.glob("*.ndjson")))
    run_silver(lake, rules=SilverRules(lookback_s=0))
    run_gold(lake, engine, reports_dir=tmp_path / "reports", lookback_s=0)
    rows = expected_silver([simulated])
    for day in DAYS:
        got = lake.read_parquet(*GOLD, "top_speeds", f"date={day}", "part.parquet").to_pylist()
        assert [
            (r["hour"], r["rank"], r["vin"], r["speed_kmh"], r["ts"]) for r in got
        ] == expected_top(rows, day)
        report = list(csv.DictReader((tmp_path / "reports" / f"top-speeds-{day}.csv").open()))
        assert [(r["rank"], r["vin"]) for r in report] == [(str(g["rank"]), g["vin"]) for g in got]
        assert "<table>" in (tmp_path / "reports" / f"top-speeds-{day}.html").read_text()
        stats = {
            r["vin"]: r
            for r in lake.read_parquet(
                *GOLD, "daily_stats", f"date={day}", "part.parquet"
            ).to_pylist()
        }
        for vin in {r["vin"] for r in rows}:
            mine = [r for r in rows if r["vin"] == vin and r["ts"].date() == day]
            odometer = [r["odometer_km"] for r in mine]
            speeds = [r["speed_kmh"] for r in mine if r["speed_kmh"] is not None]
            energy = [r["energy_remaining_kwh"] for r in mine]
            steps = [b - a for a, b in itertools.pairwise(energy)]
            assert stats[vin]["messages"] == len(mine)
            assert stats[vin]["distance_km"] == pytest.approx(max(odometer) - min(odometer))
            assert stats[vin]["max_speed_kmh"] == pytest.approx(
                max(speeds, default=math.nan), nan_ok=True
            )
            assert stats[vin]["energy_used_kwh"] == pytest.approx(-sum(s for s in steps if s < 0))
            assert stats[vin]["energy_added_kwh"] == pytest.approx(sum(s for s in steps if s > 0))
            assert stats[vin]["soc_min_pct"] == min(r["soc_pct"] for r in mine)
    with engine.connect() as connection:
        state = {r.vin: r._mapping for r in connection.execute(sa.select(vehicle_state))}
    for vin in {r["vin"] for r in rows}:
        mine = [r for r in rows if r["vin"] == vin]
        for name in MEASURES:
            seen = [r for r in mine if r[name] is not None]
            assert state[vin][name] == (seen[-1][name] if seen else None), (vin, name)
            assert state[vin][f"{name}_at"] == (seen[-1]["ts"] if seen else None)
        assert state[vin]["last_ts"] == mine[-1]["ts"]


def served(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(vehicle_state).order_by(vehicle_state.c.vin))
        return [dict(r._mapping, updated_at=None) for r in rows]


def gold_files(lake: Lake) -> dict[str, object]:
    return {p: lake.read_parquet(p.removeprefix(lake.root + "/")) for p in lake.list_files("gold")}


def test_incremental_gold_equals_a_full_refresh(
    simulated: Path, tmp_path: Path, engine: sa.Engine
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    reports = tmp_path / "reports"
    for path in sorted(simulated.glob("*.ndjson")):  # a day at a time
        land_files(lake, [path])
        run_silver(lake, rules=SilverRules(lookback_s=0))
        run_gold(lake, engine, reports_dir=reports, lookback_s=0)
    before = served(engine)[0]
    # The vehicle's last message again, received later, without a position: that copy wins
    # (latest received), so the stored position's row is gone and an earlier one is latest.
    assert isinstance(before["last_ts"], datetime) and before["lat_at"] == before["last_ts"]
    late = tmp_path / "late.ndjson"
    stamp = before["last_ts"].isoformat()
    late.write_text(f'{{"vin": "{before["vin"]}", "ts": "{stamp}", "speed_kmh": 1.5}}\n')
    land_files(lake, [late])
    run_silver(lake, rules=SilverRules(lookback_s=0))
    run_gold(lake, engine, reports_dir=reports, lookback_s=0)
    after = served(engine)[0]
    assert after["lat_at"] < before["lat_at"] and after["speed_kmh"] == 1.5
    incremental, files = served(engine), gold_files(lake)
    run_silver(lake, rules=SilverRules(lookback_s=0), full_refresh=True)
    run_gold(lake, engine, reports_dir=reports, lookback_s=0, full_refresh=True)
    assert served(engine) == incremental
    again = gold_files(lake)
    assert sorted(again) == sorted(files)
    for path, table in again.items():
        for name in table.column_names:
            assert table[name].to_pylist() == files[path][name].to_pylist(), (path, name)


def test_a_full_refresh_rewrites_in_place_and_drops_what_bronze_no_longer_holds(
    simulated: Path, tmp_path: Path, engine: sa.Engine
) -> None:
    lake, reports = Lake(str(tmp_path / "lake")), tmp_path / "reports"
    land_files(lake, sorted(simulated.glob("*.ndjson")))
    run_silver(lake, rules=SilverRules(lookback_s=0))
    run_gold(lake, engine, reports_dir=reports, lookback_s=0)
    before = set(lake.list_files("silver")) | set(lake.list_files("gold"))
    second = f"/date={DAYS[1]}/"
    assert any(second in path for path in before)
    for path in lake.fs.find(lake.path("bronze")):  # the second day leaves bronze (retention)
        if second in path:
            lake.fs.rm(path)
    seen: dict[str, list[set[str]]] = {"silver": [], "gold": []}

    def meanwhile(folder: str) -> Callable[..., None]:  # what a reader finds as the run goes
        return lambda *_: seen[folder].append(set(lake.list_files(folder)))

    run_silver(lake, rules=SilverRules(lookback_s=0), full_refresh=True,
               on_progress=meanwhile("silver"))  # fmt: skip
    run_gold(lake, engine, reports_dir=reports, lookback_s=0, full_refresh=True,
             on_progress=meanwhile("gold"))  # fmt: skip
    for folder, found in seen.items():  # nothing was ever missing meanwhile
        assert found and all(files == {p for p in before if f"/{folder}/" in p} for files in found)
    after = set(lake.list_files("silver")) | set(lake.list_files("gold"))
    assert after == {path for path in before if second not in path}
    rows = [r for r in expected_silver([simulated]) if r["ts"].date() == DAYS[0]]
    got = lake.read_parquet(*GOLD, "top_speeds", f"date={DAYS[0]}", "part.parquet").to_pylist()
    assert [(r["hour"], r["rank"], r["vin"], r["speed_kmh"], r["ts"]) for r in got] == (
        expected_top(rows, DAYS[0])
    )
