"""Trips ingestion and query latency on this machine, through the real job path.

    uv run python benchmarks/trips_ingest.py --rows 1000000 --db sqlite
    uv run python benchmarks/trips_ingest.py --rows 1000000 --db postgres

Writes benchmarks/out/trips_ingest-<db>-<rows>.json and prints a Markdown table row.
Baseline: the original system, 1,024,000 rows in 6 min 51 s (about 2,500 rows/s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

BASELINE_ROWS_PER_S = 1_024_000 / (6 * 60 + 51)
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    out_dir = Path(__file__).parent / "out"
    out_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        result = run(rows=args.rows, db=args.db, runs=args.runs, scratch=Path(scratch))
    (out_dir / f"trips_ingest-{args.db}-{args.rows}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    q = result["queries_ms"]
    print(
        f"| {args.db} | {args.rows:,} | {result['ingest_s']:.1f} s | {result['rows_per_s']:,.0f} "
        f"| {result['ratio_to_baseline']:.0f}x | {q['weekly_average_region']['p95']:.1f} "
        f"| {q['weekly_average_bbox']['p95']:.1f} | {q['groups_top50']['p95']:.1f} "
        f"| {q['trip_by_id']['p95']:.2f} | {result['peak_rss_mib']:.0f} |"
    )


def run(*, rows: int, db: str, runs: int, scratch: Path) -> dict[str, Any]:
    os.environ["FLEETLAKE_HOME"] = str(scratch / "home")
    if db == "postgres":
        os.environ["FLEETLAKE_DATABASE_URL"] = reset_postgres()
    from fleetlake.domains import register_job_kinds
    from fleetlake.platform.db import get_engine
    from fleetlake.platform.jobs import run_job
    from fleetlake.settings import get_settings
    from fleetlake.simulate.trips import simulate_trips
    from fleetlake.trips import service

    register_job_kinds()
    settings = get_settings()
    engine = get_engine(settings.resolved_database_url)
    truth = simulate_trips(rows=rows, out=scratch / "trips.csv", seed=1)
    started = time.perf_counter()
    job = run_job(
        engine, job_id=service.queue_ingestion(engine, sources=[str(truth.path)], force=False)
    )
    elapsed = time.perf_counter() - started
    assert job["state"] == "succeeded", job
    assert job["results"][0]["rows_loaded"] == rows - truth.bad_rows
    return {
        "rows": rows,
        "db": db,
        "machine": f"{platform.node()} {os.cpu_count()} cores",
        "ingest_s": elapsed,
        "rows_per_s": rows / elapsed,
        "ratio_to_baseline": rows / elapsed / BASELINE_ROWS_PER_S,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "queries_ms": query_latencies(engine, settings, runs),
    }


def query_latencies(engine: Any, settings: Any, runs: int) -> dict[str, dict[str, float]]:
    from fleetlake.platform.lake import Lake
    from fleetlake.trips import service, stats
    from fleetlake.trips.areas import BBox, Match

    lake = Lake(settings.resolved_lake_uri)
    city = BBox.parse("7.55,44.95,7.80,45.20")
    cases = {
        "weekly_average_region": lambda c: stats.weekly_average(c, lake=lake, region="Turin"),
        "weekly_average_bbox": lambda c: stats.weekly_average(
            c, lake=lake, bbox=city, match=Match.either
        ),
        "groups_top50": lambda c: stats.trip_groups(
            c, settings=settings, region="Berlin", limit=50
        ),
        "trip_by_id": lambda c: service.get_trip(c, trip_id=12345),
    }
    timings: dict[str, dict[str, float]] = {}
    with engine.connect() as connection:
        for name, query in cases.items():
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                query(connection)
                samples.append((time.perf_counter() - started) * 1000)
            samples.sort()
            timings[name] = {
                "p50": statistics.median(samples),
                "p95": samples[int(0.95 * (len(samples) - 1))],
            }
    return timings


def reset_postgres() -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA IF EXISTS bench_trips CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA bench_trips"))
    engine.dispose()
    url = f"{PG_URL}?options=-csearch_path%3Dbench_trips"
    from fleetlake.platform.db import create_db_engine, upgrade

    upgrade(create_db_engine(url))
    return url


if __name__ == "__main__":
    main()
