"""Telemetry lake stages at fleet scale: bronze buffers → compaction → silver → gold, full,
then an incremental run after one new hour (issue 4: ≤ 10 % of the full refresh's time), and
after the hour after it.

    uv run --group bench python -m benchmarks.telemetry_pipeline --vehicles 1000

The simulated day (one message per vehicle every 10 s) is written to bronze as the buffers
would write it (a file per 1,000 messages per vehicle), then each stage is timed alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

OUT = Path(__file__).parent / "out"
DAY = date(2026, 11, 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fleetlake-telemetry-") as scratch:
        result = run(vehicles=args.vehicles, scratch=Path(scratch))
    target = args.out / f"telemetry_pipeline-{args.vehicles}.json"
    target.write_text(json.dumps(result, indent=1, default=str))
    print(summary(result))
    print(f"result: {target}")


def run(*, vehicles: int, scratch: Path) -> dict[str, Any]:
    from fleetlake.platform.db import create_db_engine, upgrade
    from fleetlake.platform.lake import Lake
    from fleetlake.simulate.telemetry import make_fleet, simulate_day
    from fleetlake.telemetry.compaction import compact
    from fleetlake.telemetry.gold import run_gold
    from fleetlake.telemetry.silver import SilverRules, run_silver

    result: dict[str, Any] = {
        "vehicles": vehicles,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.python_version()}",
    }
    started = time.perf_counter()
    fleet = make_fleet(vehicles=vehicles, seed=1, interval_s=10)
    day = simulate_day(fleet, DAY)
    next_day = simulate_day(fleet, DAY + timedelta(days=1))
    first_hour = next_day.filter(
        pc.less(next_day["ts"], pa.scalar(datetime(2026, 11, 17, 1, tzinfo=UTC)))
    )
    second_hour = next_day.filter(
        pc.and_(
            pc.greater_equal(next_day["ts"], pa.scalar(datetime(2026, 11, 17, 1, tzinfo=UTC))),
            pc.less(next_day["ts"], pa.scalar(datetime(2026, 11, 17, 2, tzinfo=UTC))),
        )
    )
    result["simulate_s"] = time.perf_counter() - started
    result["rows"], result["new_hour_rows"] = day.num_rows, first_hour.num_rows
    lake = Lake(str(scratch / "lake"))
    engine = create_db_engine(f"sqlite:///{scratch / 'serving.db'}")
    upgrade(engine)
    rules = SilverRules(lookback_s=0)

    result["bronze"] = timed(lambda: write_buffers(lake, day, rows_per_file=1000), day.num_rows)
    result["compaction"] = timed(
        lambda: compact(lake, before=DAY + timedelta(days=1)), day.num_rows
    )
    result["silver_full"] = timed(
        lambda: run_silver(lake, rules=rules, full_refresh=True), day.num_rows
    )
    reports = scratch / "reports"
    result["gold_full"] = timed(
        lambda: run_gold(lake, engine, reports_dir=reports, lookback_s=0, full_refresh=True),
        day.num_rows,
    )
    write_buffers(lake, first_hour, rows_per_file=1000)
    time.sleep(1.1)  # the new files' modification times are past the marks
    result["silver_incremental"] = timed(lambda: run_silver(lake, rules=rules), first_hour.num_rows)
    result["gold_incremental"] = timed(
        lambda: run_gold(lake, engine, reports_dir=reports, lookback_s=0), first_hour.num_rows
    )
    write_buffers(lake, second_hour, rows_per_file=1000)
    time.sleep(1.1)
    result["silver_next_hour"] = timed(lambda: run_silver(lake, rules=rules), second_hour.num_rows)
    result["gold_next_hour"] = timed(
        lambda: run_gold(lake, engine, reports_dir=reports, lookback_s=0), second_hour.num_rows
    )
    full = result["silver_full"]["seconds"] + result["gold_full"]["seconds"]
    incremental = result["silver_incremental"]["seconds"] + result["gold_incremental"]["seconds"]
    result["incremental_vs_full"] = incremental / full
    next_hour = result["silver_next_hour"]["seconds"] + result["gold_next_hour"]["seconds"]
    result["next_hour_vs_full"] = next_hour / full
    with engine.connect() as connection:
        served = connection.execute(sa.text("SELECT count(*) FROM telemetry_vehicle_state"))
        result["vehicles_served"] = served.scalar_one()
    return result


def write_buffers(lake: Any, table: pa.Table, *, rows_per_file: int) -> int:
    """As the buffers write: per vehicle, a file per `rows_per_file` messages, per UTC day."""
    from fleetlake.telemetry.bronze import BUFFER

    table = table.sort_by([("vin", "ascending"), ("ts", "ascending")])
    vins = table["vin"].to_pylist()
    files, start = 0, 0
    while start < len(vins):
        vin = vins[start]
        end = start
        while end < len(vins) and vins[end] == vin and end - start < rows_per_file:
            end += 1
        chunk = table.slice(start, end - start)
        days = sorted(set(pc.cast(chunk["ts"], pa.date32()).to_pylist()))
        for chunk_day in days:
            part = chunk.filter(pc.equal(pc.cast(chunk["ts"], pa.date32()), chunk_day))
            name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}.parquet"
            lake.write_parquet(part, *BUFFER, vin, f"date={chunk_day}", name)
            files += 1
        start = end
    return files


def timed(work: Any, rows: int) -> dict[str, Any]:
    started = time.perf_counter()
    outcome = work()
    seconds = time.perf_counter() - started
    found = {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds}
    if hasattr(outcome, "to_dict"):
        found["result"] = outcome.to_dict()
    return found


def summary(result: dict[str, Any]) -> str:
    lines = [
        f"{result['vehicles']} vehicles x 1 day: {result['rows']:,} rows (new hour "
        f"{result['new_hour_rows']:,}); simulated in {result['simulate_s']:.0f} s"
    ]
    for stage in ("bronze", "compaction", "silver_full", "gold_full", "silver_incremental",
                  "gold_incremental", "silver_next_hour", "gold_next_hour"):  # fmt: skip
        found = result[stage]
        lines.append(
            f"  {stage:<20} {found['seconds']:8.2f} s  {found['rows_per_s']:>12,.0f} rows/s"
        )
    lines.append(f"  incremental / full refresh: {result['incremental_vs_full']:.1%}")
    lines.append(f"  the hour after / full refresh: {result['next_hour_vs_full']:.1%}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
