"""Telemetry files through the real job path into bronze, on SQLite and PostgreSQL jobs."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from fleetlake.errors import InvalidParameter
from fleetlake.platform.jobs import list_events, run_job
from fleetlake.platform.lake import Lake
from fleetlake.settings import get_settings
from fleetlake.telemetry import bronze, service
from fleetlake.telemetry.compaction import compacted_path
from tests.conftest import DATA

TESLA = DATA / "providers" / "tesla_fleet_api"


def ingest_now(engine: sa.Engine, sources: list[str], **options: Any) -> dict[str, Any]:
    job_id = service.queue_ingestion(engine, sources=sources, settings=get_settings(), **options)
    return run_job(engine, job_id=job_id)


def lake() -> Lake:
    return Lake(get_settings().resolved_lake_uri)


def landed(*parts: str) -> pa.Table:
    files = lake().list_files(*bronze.BUFFER, *parts)
    return pa.concat_tables(pq.read_table(f) for f in files) if files else pa.table({})


def quarantined() -> list[dict[str, Any]]:
    files = lake().list_files(*bronze.QUARANTINE)
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_ndjson_lines_land_and_bad_lines_are_kept_with_their_line(
    engine: sa.Engine, tmp_path: Path
) -> None:
    path = tmp_path / "feed.ndjson"
    path.write_text(
        '{"vin": "V1", "ts": "2026-11-21T10:00:00Z", "speed_kmh": "50"}\n'
        "not json\n"
        "\n"
        '{"vin": "V1", "ts": 1795255210000, "soc_pct": 80, "tyre_kpa": 230}\n'
        '{"ts": "2026-11-21T10:00:20Z"}\n'
        '{"vin": "../V2", "ts": "2026-11-21T10:00:30Z"}\n'
    )
    job = ingest_now(engine, [str(path)])
    assert job["state"] == "succeeded"
    [result] = job["results"]
    assert (result["status"], result["messages"]) == ("loaded", 5)
    assert (result["rows_loaded"], result["rows_quarantined"]) == (2, 3)
    table = landed("V1", "date=2026-11-21")
    assert table.column("speed_kmh").to_pylist() == [50.0, None]
    assert table.column("soc_pct").to_pylist() == [None, 80.0]
    assert json.loads(table.column("extra")[1].as_py()) == {"tyre_kpa": 230}
    kept = sorted((q["position"], q["reason"]) for q in quarantined())
    assert [position for position, _ in kept] == [2, 5, 6]
    assert kept[0][1].startswith("invalid JSON: Expecting value")
    assert kept[1][1] == "no vin at 'vin'"
    assert (
        kept[2][1]
        == "vin '../V2' is not 1-64 letters, digits, - or _, starting with a letter or digit"
    )
    assert {q["source"] for q in quarantined()} == {str(path)}


def test_provider_files_folder_gzip_and_idempotence(engine: sa.Engine, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    shutil.copy(TESLA / "vehicle_data.parked.json", folder)
    with (TESLA / "vehicle_data.charging.json").open("rb") as src:
        (folder / "charging.json.gz").write_bytes(gzip.compress(src.read()))
    (folder / "notes.txt").write_text("ignored: not a telemetry suffix")
    job = ingest_now(engine, [str(folder)], provider="tesla_fleet_api")
    assert [(r["name"], r["rows_loaded"]) for r in job["results"]] == [
        ("charging.json.gz", 1),
        ("vehicle_data.parked.json", 1),
    ]
    parked = landed("LRWXF7EK4KC700000").to_pylist()[0]
    assert parked["ts"] == datetime(2024, 1, 19, 23, 38, 40, 649000, tzinfo=UTC)
    assert parked["soc_pct"] == 77.0 and parked["speed_kmh"] is None
    again = ingest_now(engine, [str(folder)], provider="tesla_fleet_api")
    assert {r["status"] for r in again["results"]} == {"already ingested"}
    forced = ingest_now(engine, [str(folder)], provider="tesla_fleet_api", force=True)
    assert {r["status"] for r in forced["results"]} == {"loaded"}
    assert landed("LRWXF7EK4KC700000").num_rows == 2  # twice in bronze; silver keeps one


def test_csv_and_parquet_with_canonical_columns(engine: sa.Engine, tmp_path: Path) -> None:
    csv_path = tmp_path / "feed.csv"
    csv_path.write_text(
        "vin,ts,lat,lon,speed_kmh,charging_state\n"
        "V9,2026-11-20T08:00:00Z,45.07,7.68,12.5,\n"
        "V9,2026-11-20T08:00:10Z,45.08,7.69,,charging,surplus\n"
    )
    parquet_path = tmp_path / "feed.parquet"
    pq.write_table(
        pa.table({"vin": ["V9"], "ts": [datetime(2026, 11, 20, 9, tzinfo=UTC)], "soc_pct": [55.5]}),
        parquet_path,
    )
    job = ingest_now(engine, [str(csv_path), str(parquet_path)])
    assert [(r["rows_loaded"], r["rows_quarantined"]) for r in job["results"]] == [(1, 1), (1, 0)]
    rows = landed("V9").sort_by("ts").to_pylist()
    assert [(r["lat"], r["speed_kmh"], r["charging_state"], r["soc_pct"]) for r in rows] == [
        (45.07, 12.5, None, None),
        (None, None, None, 55.5),
    ]
    [bad] = quarantined()
    assert (bad["position"], bad["reason"]) == (3, "more cells than header columns")


def test_progress_events_and_compaction_job(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "day.ndjson"
    with path.open("w") as out:
        for second in range(0, 3000, 3):
            ts = datetime(2026, 11, 19, 23, 30, tzinfo=UTC).timestamp() + second
            out.write(json.dumps({"vin": "V3", "ts": ts, "speed_kmh": second % 90}) + "\n")
    job = ingest_now(engine, [str(path)])
    assert job["results"][0]["rows_loaded"] == 1000
    with engine.connect() as connection:
        events = list_events(connection, job_id=job["id"])
    assert [e["data"]["rows_done"] for e in events if e["type"] == "progress"][-1] == 1000
    compaction = run_job(engine, job_id=service.queue_compaction(engine, day=None))
    assert compaction["state"] == "succeeded"
    assert compaction["results"][0]["rows_loaded"] == 1000
    days = [compacted_path(date(2026, 11, d), "V3") for d in (19, 20)]
    counts = [lake().read_parquet(*parts).num_rows for parts in days]
    assert counts == [600, 400]  # 23:30 to midnight, then the next day's 400 fixes


def test_bad_requests_fail_before_a_job_exists(engine: sa.Engine, tmp_path: Path) -> None:
    (tmp_path / "x.ndjson").write_text("{}\n")
    with pytest.raises(InvalidParameter, match="unknown provider"):
        service.queue_ingestion(
            engine, sources=[str(tmp_path / "x.ndjson")], settings=get_settings(), provider="nope"
        )
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidParameter, match=r"holds no \.ndjson"):
        service.queue_ingestion(engine, sources=[str(tmp_path / "empty")], settings=get_settings())


def test_bulk_chunks_keep_line_numbers(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEETLAKE_TELEMETRY_BULK_LINES", "2")
    get_settings.cache_clear()
    path = tmp_path / "chunks.ndjson"
    good = '{"vin": "C1", "ts": "2026-11-21T10:00:%02dZ", "speed_kmh": 5}\n'
    path.write_text(good % 0 + good % 1 + good % 2 + "broken\n" + good % 4)
    [result] = ingest_now(engine, [str(path)])["results"]
    assert (result["rows_loaded"], result["rows_quarantined"]) == (4, 1)
    assert [(q["position"], q["reason"][:12]) for q in quarantined()] == [(4, "invalid JSON")]
    assert landed("C1").num_rows == 4


def test_a_compaction_killed_before_deleting_its_buffers_is_tidied_at_the_next_start(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """The crash window between writing a day file and deleting its buffers, made on
    purpose: the next start deletes the buffers the day file already holds."""
    import duckdb

    from fleetlake.domains import register_job_kinds
    from fleetlake.platform.jobs import create_job, jobs
    from fleetlake.platform.recovery import recover_interrupted

    path = tmp_path / "day.ndjson"
    path.write_text("".join(json.dumps({"vin": "V4", "ts": f"2026-11-18T10:{m:02d}:00Z",
                                        "speed_kmh": m}) + "\n" for m in range(60)))  # fmt: skip
    ingest_now(engine, [str(path)])
    buffers = lake().list_files(*bronze.BUFFER)
    kept = {file: Path(file).read_bytes() for file in buffers}
    assert (
        run_job(engine, job_id=service.queue_compaction(engine, day=None))["state"] == "succeeded"
    )
    for file, content in kept.items():  # as if the process died before deleting them
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        Path(file).write_bytes(content)
    stale = Path(lake().path("bronze", "telemetry")) / ".tmp-0123.partial"
    stale.write_bytes(b"half a file")
    os.utime(stale, (0, 0))  # written long ago by the dead process
    dead = create_job(engine, kind="telemetry.compact", params={"date": None})
    with engine.begin() as connection:
        connection.execute(jobs.update().where(jobs.c.id == dead).values(
            state="running", worker_host=socket.gethostname(), worker_pid=2**22 + 7))  # fmt: skip
    glob = f"read_parquet('{lake().path('bronze', 'telemetry')}/**/*.parquet')"
    assert duckdb.sql(f"SELECT count(*) FROM {glob}").fetchall() == [(120,)]  # twice
    assert recover_interrupted(engine, load_kinds=register_job_kinds) == [dead]
    assert duckdb.sql(f"SELECT count(*) FROM {glob}").fetchall() == [(60,)]  # once
    assert not stale.exists() and lake().list_files(*bronze.BUFFER) == []
