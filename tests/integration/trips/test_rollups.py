"""Rollups always equal an aggregate of the trips: after loads, forced reloads, resumes;
and every query answered from them equals a brute-force computation on random data."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetlake.errors import NotFound
from fleetlake.platform.jobs import run_job
from fleetlake.trips import service, stats
from fleetlake.trips.areas import BBox, Match
from fleetlake.trips.verify import verify_rollups
from tests.conftest import SAMPLE_TRIPS

CLEAN = {"missing": 0, "extra": 0, "drift": 0}


def ingest(engine: sa.Engine, sources: list[str], force: bool = False) -> dict[str, Any]:
    return run_job(engine, job_id=service.queue_ingestion(engine, sources=sources, force=force))


def assert_consistent(engine: sa.Engine) -> None:
    report = verify_rollups(engine, group_resolution=7, time_bucket_minutes=60)
    assert report == dict.fromkeys(report, CLEAN)


def test_rollups_follow_loads_and_forced_reloads(engine: sa.Engine, tmp_path: Path) -> None:
    ingest(engine, [str(SAMPLE_TRIPS)])
    assert_consistent(engine)
    ingest(engine, [str(SAMPLE_TRIPS)], force=True)
    assert_consistent(engine)
    with engine.connect() as connection:
        assert stats.counts_by(connection, column="region") == [
            ("Hamburg", 28),
            ("Prague", 34),
            ("Turin", 38),
        ]


def test_verify_finds_a_tampered_rollup(engine: sa.Engine) -> None:
    ingest(engine, [str(SAMPLE_TRIPS)])
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE trip_day_counts SET trips = trips + 1 "
                "WHERE region = 'Turin' AND datasource = 'baba_car' AND day = '2018-05-21'"
            )
        )
    report = verify_rollups(engine, group_resolution=7, time_bucket_minutes=60)
    assert report["trip_day_counts"] == {"missing": 1, "extra": 1, "drift": 0}


Trip = tuple[str, float, float, float, float, datetime, str]


def write_trips(path: Path, rows: list[Trip]) -> None:
    lines = ["region,origin_coord,destination_coord,datetime,datasource"]
    lines += [
        f"{r},POINT ({ox!r} {oy!r}),POINT ({dx!r} {dy!r}),{t:%Y-%m-%d %H:%M:%S},{s}"
        for r, ox, oy, dx, dy, t, s in rows
    ]
    path.write_text("\n".join(lines) + "\n")


def brute_weeks(
    rows: list[Trip], keep: Any, start: date | None, end: date | None
) -> Counter[tuple[int, int]]:
    counts: Counter[tuple[int, int]] = Counter()
    for row in rows:
        day = row[5].date()
        if keep(row) and (start is None or day >= start) and (end is None or day <= end):
            counts[row[5].isocalendar()[:2]] += 1
    return counts


def inside(box: BBox, lon: float, lat: float) -> bool:
    return box.min_lon <= lon <= box.max_lon and box.min_lat <= lat <= box.max_lat


KEEP = {
    Match.origin: lambda b, r: inside(b, r[1], r[2]),
    Match.destination: lambda b, r: inside(b, r[3], r[4]),
    Match.both: lambda b, r: inside(b, r[1], r[2]) and inside(b, r[3], r[4]),
    Match.either: lambda b, r: inside(b, r[1], r[2]) or inside(b, r[3], r[4]),
}

coordinate = st.tuples(st.floats(7.0, 8.0), st.floats(44.5, 45.5))
trip = st.builds(
    lambda region, o, d, minutes, source: (
        region,
        *o,
        *d,
        datetime(2018, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes),
        source,
    ),
    st.sampled_from(["Turin", "Asti"]),
    coordinate,
    coordinate,
    st.integers(0, 120 * 24 * 60),
    st.sampled_from(["a", "b"]),
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(trip, min_size=1, max_size=300), seed=st.integers(0, 10**6))
def test_queries_equal_brute_force(
    engine: sa.Engine, tmp_path: Path, rows: list[Trip], seed: int
) -> None:
    with engine.begin() as connection:  # hypothesis reuses the fixture: start empty each time
        for table in (
            "trips",
            "trip_quarantine",
            "trip_files",
            "trip_day_counts",
            "trip_groups",
            "trip_cell_weeks",
            "trip_pair_weeks",
        ):
            connection.execute(sa.text(f"DELETE FROM {table}"))
    path = tmp_path / f"random-{seed}.csv"
    write_trips(path, rows)
    assert ingest(engine, [str(path)])["state"] == "succeeded"
    assert_consistent(engine)
    rng = random.Random(seed)
    with engine.connect() as connection:
        for region in ("Turin", "Asti"):
            if not any(r[0] == region for r in rows):  # an unknown region is refused, not zero
                with pytest.raises(NotFound, match=region):
                    stats.weekly_average(connection, lake=lake(), region=region)
                continue
            got = stats.weekly_average(connection, lake=lake(), region=region)
            want = brute_weeks(rows, lambda r, region=region: r[0] == region, None, None)
            assert got["trips"] == sum(want.values())
            assert {
                (w["year"], w["week"]): w["trips"] for w in got["per_week"] if w["trips"]
            } == want
        continent = BBox(-10.0, 35.0, 40.0, 60.0)  # whole resolution-1 cells inside
        for match in Match:
            got = stats.weekly_average(connection, lake=lake(), bbox=continent, match=match)
            assert got["trips"] == len(rows)
        for _ in range(6):
            lon = sorted(rng.uniform(6.9, 8.1) for _ in range(2))
            lat = sorted(rng.uniform(44.4, 45.6) for _ in range(2))
            box = BBox(lon[0], lat[0], lon[1], lat[1])
            match = rng.choice(list(Match))
            start = (
                date(2018, 1, 1) + timedelta(days=rng.randrange(60)) if rng.random() < 0.5 else None
            )
            end = start + timedelta(days=rng.randrange(60)) if start else None
            if start and end and rng.random() < 0.5:  # whole ISO weeks: the rollup path
                start -= timedelta(days=start.weekday())
                end += timedelta(days=6 - end.weekday())
            got = stats.weekly_average(
                connection, lake=lake(), bbox=box, match=match, start=start, end=end
            )
            want = brute_weeks(rows, lambda r, m=match, b=box: KEEP[m](b, r), start, end)
            assert got["trips"] == sum(want.values()), (box, match, start, end)
            assert {
                (w["year"], w["week"]): w["trips"] for w in got["per_week"] if w["trips"]
            } == want
        groups = stats.trip_groups(connection, settings=_settings(), limit=1000)
        assert sum(g["trips"] for g in groups) == len(rows)


def test_boxes_over_a_dense_city_equal_brute_force(engine: sa.Engine, tmp_path: Path) -> None:
    """Trips packed around one centre, so that boxes hold whole cells and whole cell pairs
    at every level as well as boundary ones: each match mode against brute force."""
    rng = random.Random(7)
    start = datetime(2018, 1, 1, tzinfo=UTC)

    def point(spread: float) -> tuple[float, float]:
        return (rng.gauss(7.68, spread), rng.gauss(45.07, spread * 0.7))

    rows: list[Trip] = []
    for _ in range(4000):
        spread = rng.choice([0.01, 0.05, 0.3])
        (ox, oy), (dx, dy) = point(spread), point(spread)
        moment = start + timedelta(minutes=rng.randrange(60 * 24 * 90))
        rows.append(("Turin", ox, oy, dx, dy, moment, "a"))
    path = tmp_path / "city.csv"
    write_trips(path, rows)
    assert ingest(engine, [str(path)])["state"] == "succeeded"
    boxes = [BBox(7.68 - h, 45.07 - h * 0.7, 7.68 + h, 45.07 + h * 0.7) for h in (0.02, 0.1, 0.4)]
    for _ in range(9):
        half, lon, lat = rng.uniform(0.01, 0.5), rng.gauss(7.68, 0.1), rng.gauss(45.07, 0.07)
        boxes.append(BBox(lon - half, lat - half * 0.7, lon + half, lat + half * 0.7))
    with engine.connect() as connection:
        for box in boxes:
            for match in Match:
                got = stats.weekly_average(connection, lake=lake(), bbox=box, match=match)
                want = brute_weeks(rows, lambda r, m=match, b=box: KEEP[m](b, r), None, None)
                assert got["trips"] == sum(want.values()), (box, match)


def _settings() -> Any:
    from fleetlake.settings import get_settings

    return get_settings()


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETLAKE_CHUNK_BYTES", "4000")


def lake() -> Any:
    from fleetlake.platform.lake import Lake
    from fleetlake.settings import get_settings

    return Lake(get_settings().resolved_lake_uri)


def test_files_published_without_point_files_are_checked_from_bronze(engine: sa.Engine) -> None:
    ingest(engine, [str(SAMPLE_TRIPS)])
    box = BBox(7.6, 44.95, 7.75, 45.1)
    with engine.connect() as connection:
        answers = {
            m: stats.weekly_average(connection, lake=lake(), bbox=box, match=m) for m in Match
        }
        lake().remove_dir("gold", "trips", "points")  # as if published before point files existed
        for match, answer in answers.items():
            assert stats.weekly_average(connection, lake=lake(), bbox=box, match=match) == answer
    assert answers[Match.either]["trips"] >= answers[Match.both]["trips"] > 0


def test_files_published_at_once_into_empty_rollups_add_up(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """A first publish copies its deltas straight in; a second one at the same time must
    wait for it and add to it (PostgreSQL locks the rollups against other writers)."""
    from concurrent.futures import ThreadPoolExecutor

    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers itself; the direct copy is PostgreSQL's")
    header, *lines = SAMPLE_TRIPS.read_text().splitlines(keepends=True)
    halves = [tmp_path / "first.csv", tmp_path / "second.csv"]
    halves[0].write_text(header + "".join(lines[::2]))
    halves[1].write_text(header + "".join(lines[1::2]))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda path: ingest(engine, [str(path)]), halves))
    assert [r["results"][0]["status"] for r in results] == ["loaded", "loaded"]
    assert_consistent(engine)
    with engine.connect() as connection:
        assert sum(n for _, n in stats.counts_by(connection, column="region")) == 100


def test_trips_analysed_only_when_a_load_grows_them_a_lot(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """The first load and one that doubles `trips` refresh the planner's row count; a load
    of a few percent leaves it to autovacuum (an ANALYZE of a big table is random reads)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's ANALYZE is capped by analysis_limit and always run")
    header, *lines = SAMPLE_TRIPS.read_text().splitlines(keepends=True)

    def planner_rows() -> float:
        with engine.connect() as connection:
            query = "SELECT reltuples FROM pg_class WHERE oid = 'trips'::regclass"
            return float(connection.execute(sa.text(query)).scalar_one())

    path = tmp_path / "big.csv"
    path.write_text(header + "".join(lines[:95]))
    ingest(engine, [str(path)])
    assert planner_rows() == 95
    path = tmp_path / "small.csv"
    path.write_text(header + "".join(lines[95:97]))
    ingest(engine, [str(path)])
    assert planner_rows() == 95  # 2 new rows: not re-analysed
    path = tmp_path / "more.csv"
    path.write_text(header + "".join(lines[:95]).replace("2018-", "2019-"))
    ingest(engine, [str(path)])
    assert planner_rows() == 192
