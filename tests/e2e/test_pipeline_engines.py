"""`fleetlake pipeline run --engine spark` as a user runs it: the same answers as DuckDB's."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fleetlake.simulate.telemetry_run import FleetSpec, write_files
from tests.conftest import require_service
from tests.e2e.conftest import cli, cli_env

pytestmark = pytest.mark.slow


def test_pipeline_run_on_spark_from_the_cli(tmp_path: Path) -> None:
    if shutil.which("java") is None:
        require_service("Java", "the spark engine needs a Java 17+ runtime on PATH")
    drop = tmp_path / "drop"
    write_files(drop, FleetSpec(3, 1, date(2026, 11, 16), seed=3, interval_s=60))
    homes = {}
    for engine in ("duckdb", "spark"):
        env = cli_env(tmp_path / engine, f"sqlite:///{tmp_path / engine / 'db.sqlite'}",
                      FLEETLAKE_LOOKBACK_S="0")  # fmt: skip
        assert cli(env, "ingest", "telemetry", str(drop)).returncode == 0
        done = cli(env, "pipeline", "run", "--engine", engine, "--json")
        assert done.returncode == 0, done.stderr
        job = json.loads(done.stdout)
        assert job["state"] == "succeeded", job
        assert [(s["name"], s["engine"]) for s in job["results"]] == [
            ("silver", engine),
            ("gold", engine),
        ]
        homes[engine] = tmp_path / engine / "home" / "lake"
        shown = cli(env, "pipeline", "run", "--engine", "oracle")
        assert shown.returncode != 0 and "duckdb or spark" in shown.stderr + shown.stdout
        assert "Traceback" not in shown.stderr
    for folder in ("silver/telemetry", "gold/telemetry/top_speeds"):
        duck = sorted(
            p.relative_to(homes["duckdb"]) for p in homes["duckdb"].glob(f"{folder}/**/*.parquet")
        )
        spark = sorted(
            p.relative_to(homes["spark"]) for p in homes["spark"].glob(f"{folder}/**/*.parquet")
        )
        assert duck and duck == spark
        for path in duck:
            assert pq.read_table(homes["duckdb"] / path).equals(
                pq.read_table(homes["spark"] / path)
            )
