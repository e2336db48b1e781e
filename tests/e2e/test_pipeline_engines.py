"""`fleetlake pipeline run --engine spark` as a user runs it: the same answers as DuckDB's."""

from __future__ import annotations

import json
import shutil
import time
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fleetlake.simulate.telemetry_run import FleetSpec, write_files
from tests.conftest import require_service
from tests.e2e.conftest import cli, cli_env, running_server

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
        assert "WARN" not in done.stderr and "[Stage" not in done.stderr  # Spark's, in its log
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


def java_children(pid: int) -> list[str]:
    """The command lines of `pid`'s child processes that run Java (a Spark JVM)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue  # the process ended while being read
        if parent == pid and "java" in command:
            found.append(command)
    return found


def test_a_spark_run_through_the_api_stops_its_jvm(tmp_path: Path) -> None:
    if shutil.which("java") is None:
        require_service("Java", "the spark engine needs a Java 17+ runtime on PATH")
    drop = tmp_path / "drop"
    write_files(drop, FleetSpec(2, 1, date(2026, 11, 16), seed=4, interval_s=60))
    with running_server(tmp_path, FLEETLAKE_LOOKBACK_S="0") as server, server.client() as client:
        ingest = cli(server.env, "ingest", "telemetry", str(drop))
        assert ingest.returncode == 0, ingest.stderr
        job = client.post("/api/v1/pipeline/runs", json={"engine": "spark"}).json()
        deadline, jvm_seen = time.monotonic() + 240, False
        while job["state"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.5)
            jvm_seen = jvm_seen or bool(java_children(server.process.pid))
            job = client.get(f"/api/v1/jobs/{job['id']}").json()
        assert job["state"] == "succeeded", job
        assert jvm_seen  # the run's JVM was the server's child…
        assert java_children(server.process.pid) == []  # …and is gone once the run ended
        spark_log = server.home / "logs" / "jobs" / f"job-{job['id']}-spark.log"
        assert spark_log.exists()  # Spark's console output went here, not to the server's
