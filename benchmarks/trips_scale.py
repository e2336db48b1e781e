"""Trips at scale, end to end: simulate, measure the machine's limits, ingest through the
CLI job path, then time the query suite through the HTTP API, idle and during a second
ingestion, and check every answer against brute force.

    uv run --group bench python -m benchmarks.trips_scale --rows 1000000 --db postgres
    make bench-trips                      # 1 M rows, both databases, plots

Writes benchmarks/out/trips_scale-<db>-<rows>.json and the plots benchmarks/out/*.png.
Exit status 1 when any answer differs from brute force or `fleetlake trips verify` fails:
CI runs it at a small size for that, never for the timings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks import trips_limits as limits
from benchmarks import trips_suite as suite

BASELINE_ROWS_PER_S = 1_024_000 / (6 * 60 + 51)  # the system we replace
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_scale"
SAMPLE_ROWS = {"adbc": 2_000_000, "text_copy": 2_000_000, "sqlite": 2_000_000, "naive": 100_000}
OUT = Path(__file__).parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=50, help="timed requests per query")
    parser.add_argument("--during-rows", type=int, default=None, help="default: min(rows, 10 M)")
    parser.add_argument("--no-limits", action="store_true", help="skip the limit measurements")
    parser.add_argument(
        "--no-verify", action="store_true", help="skip `fleetlake trips verify` (slow at 100 M)"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch folder (CSV, home, lake) to profile"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    during = args.during_rows if args.during_rows is not None else min(args.rows, 10_000_000)
    with scratch_folder(keep=args.keep) as scratch:
        result = run(
            rows=args.rows,
            db=args.db,
            runs=args.runs,
            during_rows=during,
            with_limits=not args.no_limits,
            with_verify=not args.no_verify,
            scratch=Path(scratch),
        )
    path = args.out / f"trips_scale-{args.db}-{args.rows}.json"
    path.write_text(json.dumps(result, indent=2))
    from benchmarks.trips_plots import write_plots

    write_plots(args.out)
    print(summary(result))
    print(f"result: {path}")
    if result["wrong"] or result["verify_ok"] is False:
        raise SystemExit(f"INCONSISTENT: {result['wrong']} verify_ok={result['verify_ok']}")


@contextlib.contextmanager
def scratch_folder(*, keep: bool) -> Iterator[str]:
    if not keep:
        with tempfile.TemporaryDirectory(prefix="fleetlake-bench-") as scratch:
            yield scratch
        return
    scratch = tempfile.mkdtemp(prefix="fleetlake-bench-")
    print(f"scratch kept: {scratch}")
    yield scratch


def run(
    *,
    rows: int,
    db: str,
    runs: int,
    during_rows: int,
    with_limits: bool,
    with_verify: bool,
    scratch: Path,
) -> dict[str, Any]:
    from fleetlake.simulate.trips import simulate_trips

    env = bench_env(db, scratch)
    started = time.perf_counter()
    truth = simulate_trips(rows=rows, out=scratch / "trips.csv", seed=1)
    result: dict[str, Any] = {
        "rows": rows,
        "db": db,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.python_version()}",
        "simulate_s": time.perf_counter() - started,
        "server_workers": 2 if db == "postgres" else 1,
    }
    # The CSV -> Parquet limit; its output is also what the answers are checked against.
    parsed = scratch / "parsed.parquet"
    to_parquet = limits.duckdb_csv_to_parquet(truth.path, parsed)
    if with_limits:
        result["limits"] = measure_limits(db, truth.path, parsed, scratch, env)
        result["limits"]["csv_to_parquet"] = to_parquet
        rows_per_s = result["limits"]["load"]["rows_per_s"]
        result["limits"]["total_s"] = to_parquet["seconds"] + to_parquet["rows"] / rows_per_s
    settle(db)  # the limit loads' writes are not flushed on our time
    result["ingest"] = ingest(env, truth.path, scratch / "ingest.log")
    assert result["ingest"]["rows_loaded"] == rows - truth.bad_rows, result["ingest"]
    result["ingest"]["vs_baseline"] = result["ingest"]["rows_per_s"] / BASELINE_ROWS_PER_S
    if with_limits:
        result["ingest"]["vs_limit"] = result["ingest"]["seconds"] / result["limits"]["total_s"]
    settle(db)  # "idle" means idle: the ingestion's files are on disk, not being written
    # Two server processes on PostgreSQL (one per core); SQLite serves from one.
    workers = 2 if db == "postgres" else 1
    server = suite.start_server(env, scratch / "server.log", workers=workers)
    try:
        result |= query_phase(server.url, env, parsed, rows, runs, during_rows, scratch)
    finally:
        server.stop()
    started = time.perf_counter()
    result["verify_ok"] = verify(env) if with_verify else None  # after the concurrent load
    result["verify_s"] = time.perf_counter() - started
    return result


def bench_env(db: str, scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETLAKE_")}
    env["FLEETLAKE_HOME"] = str(scratch / "home")
    if db == "postgres":
        env["FLEETLAKE_DATABASE_URL"] = reset_postgres()
        upgrade = suite.fleetlake(env, "db", "upgrade")
        assert upgrade.wait() == 0, "fleetlake db upgrade failed"
    return env


def reset_postgres() -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA {PG_SCHEMA}"))
    engine.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{PG_SCHEMA}"


def libpq_dsn() -> str:
    return f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{PG_SCHEMA}"


def settle(db: str) -> None:
    """Dirty pages flushed before a timed phase, so that it does not pay for the last one."""
    os.sync()
    if db == "postgres":
        settle_postgres()


def settle_postgres() -> None:
    """A CHECKPOINT before each timed load: each starts with no dirty pages left by the last."""
    import psycopg

    with psycopg.connect(libpq_dsn(), autocommit=True) as connection:
        connection.execute("CHECKPOINT")


def measure_limits(
    db: str, csv: Path, parquet: Path, scratch: Path, env: dict[str, str]
) -> dict[str, Any]:
    """Each load path on the parsed rows (samples for the slow ones); `load` is the fastest
    plain load of the database, whose rate makes the limit with CSV -> Parquet."""

    def sample(kind: str) -> Path:
        return limits.sample_parquet(parquet, scratch / f"sample-{kind}.parquet", SAMPLE_ROWS[kind])

    found: dict[str, Any] = {}
    naive_rows = min(SAMPLE_ROWS["naive"], limits.rows_in(parquet))
    if db == "postgres":
        dsn = libpq_dsn()
        settle_postgres()
        found["binary_copy"] = limits.pgpq_binary_copy(dsn, parquet)
        found["adbc_ingest"] = limits.adbc_ingest(dsn, sample("adbc"))
        found["text_copy"] = limits.text_copy(dsn, sample("text_copy"), scratch)
        found["row_by_row"] = limits.row_by_row(dsn, sample("naive"))
        found["pandas_to_sql"] = limits.pandas_to_sql(
            env["FLEETLAKE_DATABASE_URL"], csv, naive_rows
        )
        found["load"] = found["binary_copy"]
    else:
        found["executemany"] = limits.sqlite_executemany(scratch / "limit.db", sample("sqlite"))
        url = f"sqlite:///{scratch / 'pandas.db'}"
        found["pandas_to_sql"] = limits.pandas_to_sql(url, csv, naive_rows)
        found["load"] = found["executemany"]
    for path in scratch.glob("sample-*.parquet"):
        path.unlink()
    return found


def ingest(env: dict[str, str], csv: Path, log: Path) -> dict[str, Any]:
    """`fleetlake ingest trips CSV --json`, timed, with the peak RSS of that process
    (its high-water mark, read every 0.2 s: a monotonic figure, no spike is missed)."""
    started = time.perf_counter()
    process = suite.fleetlake(
        env, "ingest", "trips", str(csv), "--json", stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    peak_kib = 0
    while process.poll() is None:
        peak_kib = max(peak_kib, high_water_rss_kib(process.pid))
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    text = log.read_text()
    assert process.returncode == 0, text
    job = json.loads(text[text.index("{") :])
    loaded = sum(int(r["rows_loaded"]) for r in job["results"])
    # The job's own time (queued job started → finished): without the CLI's interpreter
    # start-up and exit, which do not grow with the rows.
    job_seconds = (
        datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
    ).total_seconds()
    return {
        "seconds": seconds,
        "job_seconds": job_seconds,
        "job_rows_per_s": loaded / job_seconds,
        "rows_loaded": loaded,
        "rows_quarantined": sum(int(r["rows_quarantined"]) for r in job["results"]),
        "rows_per_s": loaded / seconds,
        "peak_rss_mib": peak_kib / 1024,
    }


def high_water_rss_kib(pid: int) -> int:
    """The process's own peak RSS (VmHWM). Not ru_maxrss: a child's ru_maxrss starts at the
    peak of the parent it was forked from (Linux keeps it across exec), and this benchmark's
    process holds gigabytes after measuring the limits (it reported 3.7 GiB for a ~0.9 GiB
    ingestion at 100 M)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:  # exited between poll and read
        pass
    return 0


def verify(env: dict[str, str]) -> bool:
    return suite.fleetlake(env, "trips", "verify", stdout=subprocess.DEVNULL).wait() == 0


def query_phase(
    url: str,
    env: dict[str, str],
    parsed: Path,
    rows: int,
    runs: int,
    during_rows: int,
    scratch: Path,
) -> dict[str, Any]:
    from fleetlake.simulate.trips import simulate_trips

    found: dict[str, Any] = {}
    timer = suite.Timer(url)
    with httpx.Client(base_url=url, timeout=120) as client:
        found["wrong"] = suite.check_answers(client, [parsed])
        found["queries_ms"] = suite.latencies(timer, suite.cases(rows), runs=runs)
        found["trip_by_id_requests_per_s"] = suite.wrk_requests_per_s(url, rows)
        if during_rows:
            second = simulate_trips(rows=during_rows, out=scratch / "during.csv", seed=2).path
            process = suite.fleetlake(
                env, "ingest", "trips", str(second), stdout=subprocess.DEVNULL
            )
            found["during_ingest"] = {
                "rows": during_rows,
                "queries_ms": suite.latencies(
                    timer, suite.cases(rows), runs=runs, until=lambda: process.poll() is not None
                ),
            }
            assert process.wait() == 0, "the concurrent ingestion failed"
            second_parsed = scratch / "during.parquet"
            limits.duckdb_csv_to_parquet(second, second_parsed)
            found["wrong"] += suite.check_answers(client, [parsed, second_parsed])
    timer.close()
    return found


def summary(result: dict[str, Any]) -> str:
    ingest_ = result["ingest"]
    lines = [
        f"{result['db']} {result['rows']:,} rows: ingest {ingest_['seconds']:.1f} s "
        f"({ingest_['rows_per_s']:,.0f} rows/s; job {ingest_['job_seconds']:.1f} s, "
        f"{ingest_['job_rows_per_s']:,.0f} rows/s; {ingest_['vs_baseline']:.0f}x baseline, "
        f"limit ratio {ingest_.get('vs_limit', float('nan')):.2f}, "
        f"peak RSS {ingest_['peak_rss_mib']:.0f} MiB)"
    ]
    during = result.get("during_ingest", {}).get("queries_ms", {})
    for name, q in result["queries_ms"].items():
        busy = f", during ingest {during[name]['p95']:.1f}" if name in during else ""
        lines.append(f"  {name:<42} p50 {q['p50']:7.1f}  p95 {q['p95']:7.1f} ms{busy}")
    lines.append(f"  trip by id throughput: {result['trip_by_id_requests_per_s']} req/s")
    lines.append(f"  consistency: {'OK' if not result['wrong'] else result['wrong']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
