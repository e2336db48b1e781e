"""kill -9 during bronze flushes and during compaction, at random points, then rerun:
nothing lost, nothing twice (silver after a re-ingestion; compacted bronze exactly)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from fleetlake.simulate.telemetry_faults import NO_FAULTS
from fleetlake.simulate.telemetry_run import FleetSpec, write_files
from tests.e2e.conftest import cli, cli_env
from tests.telemetry_truth import read_truth

pytestmark = pytest.mark.slow
DAY = date(2026, 11, 16)


def keys(folder: Path) -> Counter[tuple[object, object, object]]:
    """(vin, ts, received_at) of every row of every Parquet file under `folder`."""
    found: Counter[tuple[object, object, object]] = Counter()
    for path in folder.rglob("*.parquet"):
        if not any(part in str(path) for part in ("/.tmp-", "/_sources/", "/_quarantine/")):
            table = pq.read_table(path, columns=["vin", "ts", "received_at"])
            found.update(zip(*(table[c].to_pylist() for c in table.column_names), strict=True))
    return found


def kill_midway(command: list[str], env: dict[str, str], started: Any, delay_s: float) -> None:
    """Run the command; once `started()` says its work has begun, SIGKILL it `delay_s` later
    — and it must still have been running then."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not started():
        assert process.poll() is None, "finished before its work was seen: give it more"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(delay_s)
    assert process.poll() is None, "finished before the kill: give it more work"
    process.send_signal(signal.SIGKILL)
    process.wait(30)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_during_flushes_then_ingest_again(tmp_path: Path, seed: int) -> None:
    drop = tmp_path / "drop"
    write_files(drop, FleetSpec(4, 1, DAY, seed=seed, interval_s=20, rates=NO_FAULTS))
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}",
                  FLEETLAKE_TELEMETRY_FLUSH_MESSAGES="100", FLEETLAKE_LOOKBACK_S="0",
                  FLEETLAKE_TELEMETRY_BULK_LINES="100")  # fmt: skip
    [feed] = sorted(drop.glob("*.ndjson"))
    command = [sys.executable, "-m", "fleetlake", "ingest", "telemetry", str(feed)]
    lake = tmp_path / "home" / "lake"
    buffers = lake / "bronze" / "telemetry" / "_buffer"
    flushed = lambda: buffers.exists() and any(buffers.rglob("*.parquet"))  # noqa: E731
    kill_midway(command, env, flushed, random.Random(seed).uniform(0.0, 0.5))
    partial = sum(keys(lake / "bronze").values())
    again = cli(env, "ingest", "telemetry", str(feed), "--json")  # the marker was never written
    assert again.returncode == 0, again.stderr
    done = cli(env, "pipeline", "run", "--stage", "silver", "--json")
    assert done.returncode == 0, done.stderr
    truth = Counter((r["vin"], r["ts"]) for r in read_truth(drop, "truth"))
    silver = Counter((vin, ts) for vin, ts, _ in keys(lake / "silver" / "telemetry"))
    assert silver == truth  # nothing lost, nothing twice
    assert 0 < partial < sum(truth.values())  # the kill cut the first run short


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_kill_during_compaction_then_compact_again(tmp_path: Path, seed: int) -> None:
    drop = tmp_path / "drop"
    write_files(drop, FleetSpec(6, 2, DAY, seed=seed, interval_s=30, rates=NO_FAULTS))
    small = {"FLEETLAKE_TELEMETRY_FLUSH_MESSAGES": "40", "FLEETLAKE_TELEMETRY_BULK_LINES": "40"}
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", **small)
    loaded = cli(env, "ingest", "telemetry", str(drop))
    assert loaded.returncode == 0, loaded.stderr
    bronze = tmp_path / "home" / "lake" / "bronze" / "telemetry"
    before = keys(bronze)
    buffers = len(list((bronze / "_buffer").rglob("*.parquet")))
    assert buffers > 300
    command = [sys.executable, "-m", "fleetlake", "telemetry", "compact"]
    compacted = lambda: any(bronze.glob("date=*/*.parquet"))  # noqa: E731
    kill_midway(command, env, compacted, random.Random(seed).uniform(0.0, 0.3))
    midway = keys(bronze)
    assert set(midway) == set(before)  # at any point: every row still somewhere
    assert cli(env, "jobs", "list").returncode == 0  # the next start recovers the dead job
    assert keys(bronze) == before  # exactly once again: buffers already merged are gone
    glob = f"read_parquet('{bronze}/**/*.parquet')"  # what any user's engine reads
    [(rows,)] = duckdb.sql(f"SELECT count(*) FROM {glob}").fetchall()
    assert rows == sum(before.values())
    rerun = cli(env, "telemetry", "compact")
    assert rerun.returncode == 0, rerun.stderr
    assert keys(bronze) == before  # exactly once
    assert not list((bronze / "_buffer").rglob("*.parquet"))
