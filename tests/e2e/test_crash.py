"""kill -9 in the middle of a CLI ingestion, then retry: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlalchemy as sa

from fleetlake.simulate.trips import simulate_trips
from tests.e2e.conftest import cli, cli_env

pytestmark = pytest.mark.slow


def test_kill_during_ingestion_then_retry(tmp_path: Path, db_url: str) -> None:
    truth = simulate_trips(rows=120_000, out=tmp_path / "trips.csv", seed=11, bad_share=0.01)
    env = cli_env(tmp_path, db_url, FLEETLAKE_CHUNK_BYTES="150000")
    process = subprocess.Popen(
        [sys.executable, "-m", "fleetlake", "ingest", "trips", str(truth.path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = sa.create_engine(db_url)
    deadline = time.monotonic() + 120
    loaded = 0
    while loaded < 20_000 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        try:
            with engine.connect() as connection:
                loaded = connection.execute(sa.text("SELECT count(*) FROM trips")).scalar_one()
        except sa.exc.OperationalError:
            continue
    assert process.poll() is None, "ingestion finished before it could be killed; use more rows"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    listed = cli(env, "jobs", "show", "1", "--json")  # the next start: the job is recovered
    assert listed.returncode == 0, listed.stderr
    assert '"state": "failed"' in listed.stdout and "interrupted" in listed.stdout
    lake = tmp_path / "home" / "lake"
    with engine.connect() as connection:
        committed = connection.execute(sa.text("SELECT count(*) FROM trips")).scalar_one()
    assert globbed(lake / "bronze" / "trips") == committed  # any engine reads what committed

    retried = cli(env, "jobs", "retry", "1")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    with engine.connect() as connection:
        total, distinct_lines = connection.execute(
            sa.text("SELECT count(*), count(DISTINCT line) FROM trips")
        ).one()
        quarantined = connection.execute(
            sa.text("SELECT count(*) FROM trip_quarantine")
        ).scalar_one()
        per_region = dict(
            connection.execute(sa.text("SELECT region, count(*) FROM trips GROUP BY region")).all()
        )
    engine.dispose()
    assert total == distinct_lines == truth.rows - truth.bad_rows
    assert globbed(lake / "bronze" / "trips") == total
    for endpoint in ("o", "d"):  # the sorted point copies (Arrow IPC) hold each trip once
        points = (lake / "gold" / "trips" / "points" / f"endpoint={endpoint}").glob("*.arrow")
        assert sum(pa.ipc.open_file(p).read_all().num_rows for p in points) == total
    assert quarantined == truth.bad_rows
    assert per_region == truth.by_region
    verified = cli(env, "trips", "verify")
    assert verified.returncode == 0 and "rollups agree" in verified.stdout, verified.stdout
    shown = [line.split(" (")[0] for line in verified.stderr.splitlines()]  # no TTY: a line a step
    assert shown[0] == "verify: 1/9 counting trips per fine cell pair and week"
    assert shown[-1] == "verify: 9/9 comparing trip_pair_weeks" and len(shown) == 9


def globbed(layer: Path) -> int:
    """Rows a plain DuckDB glob over a lake layer counts, as any user's engine would."""
    [(count,)] = duckdb.sql(f"SELECT count(*) FROM read_parquet('{layer}/**/*.parquet')").fetchall()
    return int(count)
