"""The `fleetlake` command as a user runs it: output, exit codes, detach, schema checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from fleetlake.simulate.trips import simulate_trips
from tests.conftest import PG_URL, SAMPLE_TRIPS, postgres_available, require_service
from tests.e2e.conftest import cli, cli_env, start_server

pytestmark = pytest.mark.slow


def test_ingest_and_query_commands(tmp_path: Path, db_url: str) -> None:
    env = cli_env(tmp_path, db_url)
    ingested = cli(env, "ingest", "trips", str(SAMPLE_TRIPS), "--json")
    assert ingested.returncode == 0, ingested.stderr
    job = json.loads(ingested.stdout)
    assert job["state"] == "succeeded" and job["results"][0]["rows_loaded"] == 100
    job_log = (tmp_path / "home" / "logs" / "jobs" / "job-1.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in job_log]
    assert {e["job_id"] for e in entries} == {1}
    assert any("loaded, 100 rows loaded, 0 quarantined" in e["message"] for e in entries)

    average = cli(env, "trips", "weekly-average", "--region", "Hamburg", "--json")
    assert json.loads(average.stdout)["weekly_average"] == pytest.approx(5.6)
    table = cli(env, "trips", "weekly-average", "--region", "Hamburg")
    assert "5.60" in table.stdout and "28 trips over 5 weeks" in table.stdout

    lower = cli(env, "trips", "weekly-average", "--region", "hamburg", "--json")
    assert lower.returncode == 0 and json.loads(lower.stdout) == json.loads(average.stdout)
    atlantis = cli(env, "trips", "weekly-average", "--region", "Atlantis")
    assert atlantis.returncode == 1
    assert "no trips in region 'Atlantis': known regions are Hamburg, Prague" in atlantis.stderr
    bad = cli(env, "trips", "weekly-average", "--bbox", "1,2,3")
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: bbox '1,2,3' must be")
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1

    missing = cli(env, "ingest", "trips", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr

    listed = cli(env, "jobs", "list", "--json")
    assert [j["state"] for j in json.loads(listed.stdout)] == ["succeeded"]


def test_cancel_stops_between_chunks_and_keeps_committed_rows(tmp_path: Path, db_url: str) -> None:
    env = cli_env(tmp_path, db_url, FLEETLAKE_CHUNK_BYTES="100000")
    truth = simulate_trips(rows=150_000, out=tmp_path / "t.csv", seed=2)
    started = cli(env, "ingest", "trips", str(truth.path), "--detach")
    assert started.returncode == 0 and "job 1 started" in started.stdout
    engine = sa.create_engine(db_url)
    wait_for_rows(engine, 10_000)
    assert cli(env, "jobs", "cancel", "1").returncode == 0
    followed = cli(env, "jobs", "follow", "1")
    assert followed.returncode == 1 and "cancelled" in followed.stdout
    with engine.connect() as connection:
        loaded = connection.execute(sa.text("SELECT count(*) FROM trips")).scalar_one()
        offset_rows = connection.execute(sa.text("SELECT rows_loaded FROM trip_files")).scalar_one()
    engine.dispose()
    assert 0 < loaded < truth.rows and loaded == offset_rows  # committed chunks stay, exactly


def wait_for_rows(engine: sa.Engine, rows: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with engine.connect() as connection:
                if connection.execute(sa.text("SELECT count(*) FROM trips")).scalar_one() >= rows:
                    return
        except sa.exc.SQLAlchemyError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"fewer than {rows} rows after {timeout}s")


def test_several_server_processes_need_postgres(tmp_path: Path) -> None:
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'f.db'}")
    refused = cli(env, "serve", "--workers", "2")
    assert refused.returncode == 1
    assert "workers" in refused.stderr and "PostgreSQL" in refused.stderr


@pytest.mark.services
def test_postgres_pushes_events_across_processes(tmp_path: Path, pg_url: str) -> None:
    """A job run by a CLI worker process is streamed live by a two-process server
    (LISTEN/NOTIFY reaches whichever process holds the stream)."""
    db_url = pg_url
    env = cli_env(tmp_path, db_url, FLEETLAKE_CHUNK_BYTES="100000")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    server = start_server(home, db_url, "--workers", "2")
    try:
        truth = simulate_trips(rows=100_000, out=tmp_path / "t.csv", seed=4)
        received: list[tuple[float, str]] = []

        def listen() -> None:
            with httpx.stream("GET", f"{server.url}/api/v1/events", timeout=120) as response:
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        received.append((time.monotonic(), line.split(":", 1)[1].strip()))
                        if received[-1][1] in ("completed", "failed"):
                            return

        listener = threading.Thread(target=listen)
        listener.start()
        time.sleep(0.5)
        assert cli(env, "ingest", "trips", str(truth.path), "--detach").returncode == 0
        listener.join(120)
        finished = time.monotonic()
    finally:
        server.stop()
    types = [t for _, t in received]
    assert types[-1] == "completed" and types.count("progress") >= 5
    first_progress = next(at for at, t in received if t == "progress")
    assert first_progress < received[-1][0] <= finished


@pytest.mark.services
def test_outdated_postgres_schema_refuses_to_start(tmp_path: Path) -> None:
    problem = postgres_available()
    if problem:
        require_service("PostgreSQL", problem)
    admin = sa.create_engine(PG_URL)
    schema = f"old_{os.getpid()}"
    with admin.begin() as connection:
        connection.execute(
            sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        )
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    env = cli_env(tmp_path, url)
    try:
        served = cli(env, "serve", "--port", "1")
        assert served.returncode == 1
        assert "run `fleetlake db upgrade`" in served.stderr
        assert cli(env, "db", "upgrade").returncode == 0
        current = cli(env, "db", "current").stdout
        head = latest_migration()
        assert f"needed: {head}" in current and f"database: {head}" in current
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _established_by_process(port: int, pids: list[int]) -> dict[int, int]:
    """Established connections on the server's port held by each process (Linux /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                    inodes.add(fields[9])
    found = {}
    for pid in pids:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        found[pid] = sum(link.removeprefix("socket:[").rstrip("]") in inodes for link in links)
    return found


@pytest.mark.services
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_server_processes_share_the_connections_and_refuse_a_taken_port(
    tmp_path: Path, pg_url: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    server = start_server(home, pg_url, "--workers", "2")
    port = int(server.url.rsplit(":", 1)[1])
    clients = [httpx.Client(base_url=server.url) for _ in range(40)]
    try:
        for client in clients:  # one request each: every connection is accepted and kept
            assert client.get("/api/v1/health").status_code == 200
        children = subprocess.run(
            ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True
        ).stdout.split()
        spread = _established_by_process(port, [int(pid) for pid in children])
        serving = sorted(n for n in spread.values() if n)
        assert len(serving) == 2 and serving[0] >= 5, spread  # both take a fair share
        taken = cli(cli_env(tmp_path, pg_url), "serve", "--port", str(port), "--workers", "2")
        assert taken.returncode == 1 and str(port) in taken.stderr
    finally:
        for client in clients:
            client.close()
        server.stop()


def latest_migration() -> str:
    """The highest revision number among the migration files (0001_…, 0002_…)."""
    import fleetlake.platform

    versions = Path(fleetlake.platform.__file__).parent / "migrations" / "versions"
    return max(path.name.split("_", 1)[0] for path in versions.glob("[0-9]*_*.py"))
