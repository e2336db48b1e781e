"""A failed job says why in one line (stage, file, error) wherever it is shown; a job that
does not exist fails at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import cli, cli_env

pytestmark = pytest.mark.slow

LINE = '{"vin": "5YJSA1111111111A", "ts": "2026-11-16T08:00:00Z", "speed_kmh": 50}\n'


def test_a_corrupt_bronze_file_fails_the_run_naming_stage_and_file(tmp_path: Path) -> None:
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'fleetlake.db'}")
    feed = tmp_path / "feed.ndjson"
    feed.write_text(LINE)
    assert cli(env, "ingest", "telemetry", str(feed)).returncode == 0
    assert cli(env, "telemetry", "compact").returncode == 0
    [compacted] = (tmp_path / "home" / "lake" / "bronze" / "telemetry").glob("date=*/*.parquet")
    compacted.write_bytes(compacted.read_bytes()[:40])  # a disk that lost the file's end

    run = cli(env, "pipeline", "run")
    assert run.returncode == 1
    shown = cli(env, "jobs", "show", "3", "--json")
    error = json.loads(shown.stdout)["error"]
    assert error.startswith(f"stage silver: file {compacted}: ")
    assert "\n" not in error and "Traceback" not in run.stdout + run.stderr
    assert error in " ".join(run.stdout.split())
    log = (tmp_path / "home" / "logs" / "jobs" / "job-3.jsonl").read_text()
    assert "Traceback" in log  # the whole story stays in the job's log


def test_following_a_job_that_does_not_exist_fails_at_once(tmp_path: Path) -> None:
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'fleetlake.db'}")
    followed = cli(env, "jobs", "follow", "999")  # cli() times out after 300 s: a hang fails
    assert followed.returncode == 1
    assert "job 999 does not exist" in followed.stderr
