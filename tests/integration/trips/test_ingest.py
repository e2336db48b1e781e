"""Trips ingestion through the real job path, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import shutil
import zlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fleetlake.platform.jobs import list_events, run_job
from fleetlake.trips import service, stats
from fleetlake.trips.models import trip_quarantine, trips
from tests.conftest import SAMPLE_TRIPS


def ingest_now(engine: sa.Engine, sources: list[str], *, force: bool = False) -> dict[str, Any]:
    job_id = service.queue_ingestion(engine, sources=sources, force=force)
    return run_job(engine, job_id=job_id)


def region_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(trips.c.region, sa.func.count()).group_by(trips.c.region)
        )
        return {region: n for region, n in rows}


def test_sample_counts_and_idempotence(engine: sa.Engine) -> None:
    first = ingest_now(engine, [str(SAMPLE_TRIPS)])
    assert first["state"] == "succeeded"
    assert first["results"][0]["status"] == "loaded"
    assert first["results"][0]["rows_loaded"] == 100
    assert region_counts(engine) == {"Turin": 38, "Prague": 34, "Hamburg": 28}

    again = ingest_now(engine, [str(SAMPLE_TRIPS)])
    assert again["results"][0]["status"] == "already ingested"
    assert sum(region_counts(engine).values()) == 100

    forced = ingest_now(engine, [str(SAMPLE_TRIPS)], force=True)
    assert forced["results"][0]["rows_loaded"] == 100
    assert sum(region_counts(engine).values()) == 100


def test_weekly_average_counts_empty_weeks(engine: sa.Engine) -> None:
    ingest_now(engine, [str(SAMPLE_TRIPS)])
    with engine.connect() as connection:
        prague = stats.weekly_average(connection, lake=lake(), region="Prague")
        assert prague["weekly_average"] == pytest.approx(6.8)
        assert (prague["weeks"], prague["trips"]) == (5, 34)
        assert prague["per_week"][0] == {"year": 2018, "week": 18, "trips": 10}
        from datetime import date

        wide = stats.weekly_average(
            connection, lake=lake(), region="Prague", start=date(2018, 4, 23), end=date(2018, 6, 10)
        )
    # ISO weeks 17..23 of 2018: seven weeks, two of them empty.
    assert wide["weeks"] == 7 and wide["trips"] == 34
    assert wide["weekly_average"] == pytest.approx(34 / 7)
    assert wide["per_week"][0] == {"year": 2018, "week": 17, "trips": 0}


def test_malformed_rows_are_quarantined_and_valid_rows_kept(
    engine: sa.Engine, tmp_path: Path
) -> None:
    lines = SAMPLE_TRIPS.read_text().splitlines()
    bad = [
        "Turin,POINT (1 2),2018-05-21 02:54:04",
        "Turin,POINT (x y),POINT (1 2),2018-05-21 02:54:04,a",
        "Turin,POINT (1 2),POINT (1 2),2018-05-21 25:54:04,a",
        ",POINT (1 2),POINT (1 2),2018-05-21 02:54:04,a",
        "Turin,POINT (1 100),POINT (1 2),2018-05-21 02:54:04,a",
    ]
    mixed = [lines[0], *lines[1:51], *bad, *lines[51:]]
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(mixed) + "\n")
    job = ingest_now(engine, [str(path)])
    result = job["results"][0]
    assert (result["rows_loaded"], result["rows_quarantined"]) == (100, 5)
    with engine.connect() as connection:
        stored = service.list_quarantine(connection, job_id=job["id"])
    assert [q["line"] for q in stored] == [52, 53, 54, 55, 56]
    assert [q["raw"] for q in stored] == bad
    assert sum(region_counts(engine).values()) == 100


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", b"", "is empty"),
        ("binary.csv", bytes(range(256)) * 4, "binary file"),
        ("header.csv", b"a,b,c\n1,2,3\n", "expected region,origin_coord"),
    ],
)
def test_unusable_files_are_rejected_with_a_reason(
    engine: sa.Engine, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    job = ingest_now(engine, [str(path), str(SAMPLE_TRIPS)])
    assert job["state"] == "failed"
    rejected, loaded = job["results"]
    assert rejected["status"] == "rejected" and reason in rejected["reason"]
    assert loaded["status"] == "loaded" and loaded["rows_loaded"] == 100
    with engine.connect() as connection:
        quarantined = connection.execute(
            sa.select(trip_quarantine.c.source, trip_quarantine.c.reason)
        ).all()
    assert [(s, reason in r) for s, r in quarantined] == [(str(path), True)]


def test_gzip_multi_chunk_progress(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEETLAKE_CHUNK_BYTES", "1500")
    from fleetlake.settings import get_settings

    get_settings.cache_clear()
    path = tmp_path / "trips.csv.gz"
    with SAMPLE_TRIPS.open("rb") as src, gzip.open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    job = ingest_now(engine, [str(path)])
    assert job["results"][0]["rows_loaded"] == 100
    with engine.connect() as connection:
        events = list_events(connection, job_id=job["id"])
    progress = [e["data"] for e in events if e["type"] == "progress"]
    assert len(progress) >= 8
    assert [p["rows_done"] for p in progress] == sorted(p["rows_done"] for p in progress)
    assert progress[-1]["rows_done"] == 100
    assert region_counts(engine) == {"Turin": 38, "Prague": 34, "Hamburg": 28}


def test_crash_mid_file_resumes_without_loss_or_duplicates(
    engine: sa.Engine, crash_commit: Any, chunk_bytes: Any
) -> None:
    chunk_bytes(2000)
    heal = crash_commit(3)
    first = ingest_now(engine, [str(SAMPLE_TRIPS)])
    assert first["results"][0]["status"] == "failed"
    loaded_before = sum(region_counts(engine).values())
    assert 0 < loaded_before < 100

    heal()
    from fleetlake.platform.jobs import retry_job

    second = run_job(engine, job_id=retry_job(engine, job_id=first["id"]))
    assert second["state"] == "succeeded"
    assert second["results"][0]["resumed_from_offset"] > 0
    assert region_counts(engine) == {"Turin": 38, "Prague": 34, "Hamburg": 28}
    with engine.connect() as connection:
        lines = connection.execute(sa.select(trips.c.line).order_by(trips.c.line)).scalars().all()
    assert lines == list(range(2, 102))
    from fleetlake.trips.verify import verify_rollups

    report = verify_rollups(engine, group_resolution=7, time_bucket_minutes=60)
    assert all(found == {"missing": 0, "extra": 0, "drift": 0} for found in report.values())


def test_truncated_gzip_keeps_every_row_before_the_break(engine: sa.Engine, tmp_path: Path) -> None:
    whole = gzip.compress(SAMPLE_TRIPS.read_bytes() * 20)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    readable = zlib.decompressobj(31).decompress(path.read_bytes())
    complete = readable[: readable.rfind(b"\n") + 1].split(b"\n")[1:-1]
    before_break = [line for line in complete if not line.startswith(b"region,")]  # repeats
    job = ingest_now(engine, [str(path), str(SAMPLE_TRIPS)])
    cut, sample = job["results"]
    assert (cut["status"], cut["rows_loaded"]) == ("loaded", len(before_break))
    assert (sample["status"], sample["rows_loaded"]) == ("loaded", 100)  # the next source too
    with engine.connect() as connection:
        [broken] = connection.execute(
            sa.text("SELECT line, reason FROM trip_quarantine WHERE reason LIKE '%breaks off%'")
        ).all()
    assert broken.line == len(complete) + 2 and "EOFError" in broken.reason
    assert job["state"] == "succeeded"


def lake() -> Any:
    from fleetlake.platform.lake import Lake
    from fleetlake.settings import get_settings

    return Lake(get_settings().resolved_lake_uri)
