"""Monitoring with real processes: the simulator serves a leaking template's sensors as an
Omnia-shaped API; `fleetlake worker` polls it, lands every good datapoint, compacts silver,
scores the sensors and raises the template's critical event."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from tests.e2e.conftest import cli, cli_env, free_port
from tests.e2e.test_telemetry_pipeline import background, stop_gently

pytestmark = pytest.mark.slow
SITE = ("--templates", "1", "--sensors", "4", "--days", "8", "--leaks", "1", "--seed", "5")


def wait_for(condition: object, what: str, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def scalar(engine: sa.Engine, sql: str) -> int:
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text(sql)).scalar_one())
    except sa.exc.OperationalError:  # not created yet
        return 0


def test_the_worker_polls_omnia_compacts_and_raises_the_leak(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'fleetlake.db'}"
    port = free_port()
    env = cli_env(tmp_path, db_url, FLEETLAKE_ALLOW_PRIVATE_URLS="true", SIM_SECRET="e2e",
                  FLEETLAKE_MONITORING_DETECT_EVERY_S="1")  # fmt: skip
    home = Path(env["FLEETLAKE_HOME"])
    home.mkdir(parents=True)
    (home / "sources.toml").write_text(
        f'[[monitoring.omnia]]\nname = "omnia"\nurl = "http://127.0.0.1:{port}/plant/timeseries/'
        f'v1.7"\ntoken_url = "http://127.0.0.1:{port}/oauth/token"\nclient_id = "fleetlake"\n'
        'client_secret_env = "SIM_SECRET"\nscope = "omnia/.default"\nsince_days = 60\n'
        "page_size = 5000\nevery_s = 2\n"
    )
    site = tmp_path / "site"
    logs = tmp_path / "logs"
    logs.mkdir()
    python = [sys.executable, "-m", "fleetlake"]
    serve = ["--out", str(site), "--serve", str(port), "--client-secret", "e2e"]
    provider = background([*python, "simulate", "monitoring", *SITE, *serve], env, logs / "p.log")
    wait_for(lambda: (site / "truth.json").exists(), "the simulated site", 60)
    time.sleep(0.5)  # truth.json is the last file written
    loaded = cli(env, "monitoring", "model", "load", str(site / "model.json"))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    worker = background([*python, "worker"], env, logs / "worker.log")
    engine = sa.create_engine(db_url)
    try:
        wait_for(lambda: scalar(engine, "SELECT count(*) FROM monitoring_events WHERE "
                                "level = 'critical'") > 0, "the critical event")  # fmt: skip
    finally:
        stop_gently(worker, provider)
    assert "Traceback" not in (logs / "worker.log").read_text()
    served = sum(1 for _ in (site / "readings.csv").open()) - 1
    lake = home / "lake" / "monitoring"
    silver = sorted((lake / "silver").rglob("*.parquet"))
    quarantined = sum(
        pq.read_metadata(f).num_rows for f in (lake / "quarantine").rglob("*.parquet")
    )
    assert sum(pq.read_metadata(f).num_rows for f in silver) + quarantined == served
    assert 0 < quarantined < served * 0.01  # the bad-quality datapoints, and nothing else
    days = {f.parent for f in silver}
    assert len(silver) == len(days)  # compacted: one file per sensor-day
    truth = json.loads((site / "truth.json").read_text())["leaks"][0]
    shown = cli(env, "monitoring", "events", "--json")
    events = json.loads(shown.stdout)["data"]
    assert any(e["level"] == "critical" and e["at"] >= truth["start"][:10] for e in events)
