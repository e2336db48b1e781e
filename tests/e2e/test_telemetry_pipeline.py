"""The whole telemetry path with real processes: the simulator publishes one fleet to the real
Mosquitto and serves another as a provider API; `fleetlake worker` subscribes and polls;
then compaction, silver and gold. Gold must equal what the truth alone says."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from fleetlake.telemetry.schema import MEASURES
from tests.conftest import require_mosquitto
from tests.e2e.conftest import cli, cli_env, free_port
from tests.telemetry_truth import (
    expected_dropped,
    expected_last_state,
    expected_silver,
    expected_top,
)

pytestmark = [pytest.mark.slow, pytest.mark.services]
DAY = date(2026, 11, 16)
FLEET = ("--vehicles", "3", "--days", "1", "--interval-s", "30", "--start", str(DAY))


def wait_for(condition: object, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def bronze_rows(home: Path) -> int:
    files = (home / "lake" / "bronze" / "telemetry").rglob("*.parquet")
    return sum(
        pq.read_metadata(f).num_rows
        for f in files
        if "/_sources/" not in str(f)
        and "/_quarantine/" not in str(f)
        and not f.name.startswith(".tmp-")  # still being written: renamed into place when whole
    )


def test_mqtt_and_polling_to_gold_equal_the_truth(tmp_path: Path) -> None:
    require_mosquitto()
    db_url = f"sqlite:///{tmp_path / 'fleetlake.db'}"
    port, topic = free_port(), f"e2e-{uuid.uuid4().hex[:8]}"
    env = cli_env(tmp_path, db_url, FLEETLAKE_ALLOW_PRIVATE_URLS="true",
                  FLEETLAKE_PIPELINE_EVERY_S="2", FLEETLAKE_TELEMETRY_FLUSH_SECONDS="1",
                  FLEETLAKE_LOOKBACK_S="0", SIM_SECRET="e2e-secret")  # fmt: skip
    home = Path(env["FLEETLAKE_HOME"])
    home.mkdir(parents=True)
    (home / "sources.toml").write_text(
        f'[[http]]\nname = "provider"\nurl = "http://127.0.0.1:{port}/api/v1/telemetry"\n'
        f'token_url = "http://127.0.0.1:{port}/oauth/token"\nclient_id = "fleetlake"\n'
        f'client_secret_env = "SIM_SECRET"\npage_size = 2000\nevery_s = 1\n\n'
        f'[[mqtt]]\nname = "stream"\nurl = "mqtt://127.0.0.1:1883"\ntopics = ["{topic}/#"]\n'
        f'client_id = "{topic}"\n'
    )
    truths = [tmp_path / "truth-api", tmp_path / "truth-mqtt"]
    for seed, folder in zip(("21", "22"), truths, strict=True):
        made = cli(env, "simulate", "telemetry", *FLEET, "--seed", seed, "--out", str(folder))
        assert made.returncode == 0, made.stderr
    delivered = sum(bronze_rows_of(folder) for folder in truths)

    python = [sys.executable, "-m", "fleetlake"]
    logs = tmp_path / "logs"
    logs.mkdir()
    serve = ("--seed", "21", "--serve", str(port), "--client-secret", "e2e-secret")
    provider = background([*python, "simulate", "telemetry", *FLEET, *serve], env, logs / "p.log")
    worker = background([*python, "worker"], env, logs / "worker.log")
    try:
        engine = sa.create_engine(db_url)
        wait_for(lambda: _jobs(engine, "telemetry.compact") > 0, "the worker to subscribe")
        published = cli(env, "simulate", "telemetry", *FLEET, "--seed", "22",
                        "--mqtt", "mqtt://127.0.0.1:1883", "--topic-base", topic)  # fmt: skip
        assert published.returncode == 0, published.stderr
        wait_for(lambda: bronze_rows(home) >= delivered, "every message in bronze", 180)
        wait_for(lambda: _jobs(engine, "telemetry.pipeline") >= 2, "a pipeline run")
    finally:
        stop_gently(worker, provider)
    assert "Traceback" not in (logs / "worker.log").read_text()
    assert bronze_rows(home) == delivered  # at-least-once, and here exactly once

    for args in (("telemetry", "compact"), ("pipeline", "run")):
        done = cli(env, *args, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
    rows = expected_silver(truths)
    lake = home / "lake"
    silver = [
        r
        for f in sorted((lake / "silver" / "telemetry").rglob("*.parquet"))
        for r in pq.read_table(f).to_pylist()
    ]
    assert len(silver) == len(rows)
    dropped: dict[str, int] = {}
    for f in (lake / "silver" / "_quarantine").rglob("*.parquet"):
        for reason in pq.read_table(f)["reason"].to_pylist():
            dropped[reason] = dropped.get(reason, 0) + 1
    assert dropped == expected_dropped(truths)  # every injected fault accounted for
    top = pq.read_table(lake / "gold" / "telemetry" / "top_speeds" / f"date={DAY}" / "part.parquet")
    got = [(r["hour"], r["rank"], r["vin"], r["speed_kmh"], r["ts"]) for r in top.to_pylist()]
    assert got == expected_top(rows, DAY)
    state = expected_last_state(rows, tuple(MEASURES))
    with sa.create_engine(db_url).connect() as connection:
        served = {
            r.vin: r._mapping
            for r in connection.execute(sa.text("SELECT * FROM telemetry_vehicle_state"))
        }
    assert set(served) == set(state)
    for vin, mine in state.items():
        for name in MEASURES:
            assert served[vin][name] == mine.get(name), (vin, name)


def bronze_rows_of(folder: Path) -> int:
    return sum(sum(1 for _ in path.open()) for path in folder.glob("*.ndjson"))


def stop_gently(*processes: subprocess.Popen[bytes]) -> None:
    """SIGTERM to each (so they flush and acknowledge), then wait for them."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(60)


def background(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _jobs(engine: sa.Engine, kind: str) -> int:
    query = sa.text("SELECT count(*) FROM jobs WHERE kind = :k AND state = 'succeeded'")
    try:
        with engine.connect() as connection:
            return int(connection.execute(query, {"k": kind}).scalar_one())
    except sa.exc.OperationalError:  # the worker has not created the database yet
        return 0
