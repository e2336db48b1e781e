"""Rollups of published files: what weekly averages and groups read instead of the trips.

A file is published once all its chunks are committed: DuckDB aggregates its bronze chunks
into deltas, and one transaction adds them to every rollup and stamps `published_at`.
Rollups therefore always equal an aggregate of the trips of published files — which is
exactly what `fleetlake trips verify` recomputes and compares.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.errors import ServiceError
from fleetlake.platform.db import bulk_insert
from fleetlake.platform.jobs import utcnow
from fleetlake.platform.lake import Lake
from fleetlake.trips.cells import CELL_LEVELS, PAIR_LEVELS, parent_duckdb
from fleetlake.trips.models import (
    trip_cell_weeks,
    trip_day_counts,
    trip_files,
    trip_groups,
    trip_pair_weeks,
)
from fleetlake.trips.points import remove_points, write_points

ROLLUPS = (trip_day_counts, trip_groups, trip_cell_weeks, trip_pair_weeks)
SUMMED = ("trips", "origin_lon_sum", "origin_lat_sum", "destination_lon_sum", "destination_lat_sum")


def bronze_dir(sha256: str) -> tuple[str, ...]:
    return ("bronze", "trips", f"file={sha256[:16]}")


def file_deltas(lake: Lake, *, sha256: str, group_resolution: int) -> dict[str, pa.Table]:
    """Every rollup's contribution of one file, aggregated by DuckDB from its bronze chunks."""
    files = lake.list_files(*bronze_dir(sha256))
    if not files:
        return {table.name: pa.table({}) for table in ROLLUPS}
    connection = lake.duckdb(memory_limit_mb=1024)
    connection.read_parquet(lake.duckdb_paths(files)).create_view("chunk")
    for statement in _FINEST:
        connection.execute(statement)
    queries = _delta_queries(group_resolution)
    deltas = {name: connection.sql(sql).to_arrow_table() for name, sql in queries.items()}
    connection.close()
    return deltas


# The trips are scanned once per finest grain; coarser levels are summed from these small
# tables (a parent of a parent is the parent), not from the trips again.
_FINEST = (
    "CREATE TEMP TABLE fine_cells AS SELECT "
    "CASE WHEN grouping(origin_cell) = 0 THEN 'o' ELSE 'd' END AS endpoint, "
    "coalesce(origin_cell, destination_cell) AS cell, iso_year, iso_week, count(*) AS trips "
    "FROM chunk GROUP BY GROUPING SETS "
    "((origin_cell, iso_year, iso_week), (destination_cell, iso_year, iso_week))",
    f"CREATE TEMP TABLE fine_pairs AS SELECT "
    f"{parent_duckdb('origin_cell', max(PAIR_LEVELS))} AS origin_cell, "
    f"{parent_duckdb('destination_cell', max(PAIR_LEVELS))} AS destination_cell, "
    "iso_year, iso_week, count(*) AS trips FROM chunk GROUP BY ALL",
    # Days from epoch milliseconds: a time-zone cast per trip cost twice as much.
    "CREATE TEMP TABLE fine_days AS SELECT region, datasource, "
    "CAST(floor(epoch_ms(datetime) / 86400000) AS INTEGER) AS day, count(*) AS trips "
    "FROM chunk GROUP BY ALL",
)


def _delta_queries(group_resolution: int) -> dict[str, str]:
    """DuckDB SQL per rollup; only integers and our own column names are interpolated."""
    o_group = parent_duckdb("origin_cell", group_resolution)
    d_group = parent_duckdb("destination_cell", group_resolution)
    cells = [
        f"SELECT endpoint, {level}::SMALLINT AS resolution, "
        f"{parent_duckdb('cell', level)} AS cell, "
        "iso_year, iso_week, sum(trips)::BIGINT AS trips FROM fine_cells GROUP BY ALL"
        for level in CELL_LEVELS
    ]
    pairs = [
        f"SELECT {level}::SMALLINT AS resolution, "
        f"{parent_duckdb('origin_cell', level)} AS origin_cell, "
        f"{parent_duckdb('destination_cell', level)} AS destination_cell, "
        "iso_year, iso_week, sum(trips)::BIGINT AS trips FROM fine_pairs GROUP BY ALL"
        for level in PAIR_LEVELS
    ]
    return {
        "trip_day_counts": "SELECT region, datasource, DATE '1970-01-01' + day AS day, "
        "sum(trips)::BIGINT AS trips FROM fine_days GROUP BY ALL",
        "trip_groups": f"SELECT region, {o_group} AS origin_cell, "
        f"{d_group} AS destination_cell, time_bucket, count(*) AS trips, "
        "min(datetime) AS first_seen, max(datetime) AS last_seen, "
        "sum(origin_lon) AS origin_lon_sum, sum(origin_lat) AS origin_lat_sum, "
        "sum(destination_lon) AS destination_lon_sum, sum(destination_lat) AS destination_lat_sum "
        "FROM chunk GROUP BY ALL",
        "trip_cell_weeks": " UNION ALL ".join(cells),
        "trip_pair_weeks": " UNION ALL ".join(pairs),
    }


def publish_file(
    engine: Engine, lake: Lake, *, file_row: dict[str, Any], group_resolution: int
) -> dict[str, float]:
    """Add the file's deltas to every rollup and stamp it published, in one transaction;
    returns the seconds each step took. DuckDB's work (deltas, point files) overlaps
    the database's (planner statistics, rollups) on PostgreSQL."""
    clock = Stopwatch()
    concurrent = engine.dialect.name == "postgresql"  # SQLite has one writer at a time
    with ThreadPoolExecutor(2, thread_name_prefix="publish") as pool:
        trips_analysed = (
            pool.submit(analyse_trips, engine, file_id=file_row["id"]) if concurrent else None
        )
        deltas = file_deltas(lake, sha256=file_row["sha256"], group_resolution=group_resolution)
        clock.lap("deltas_s")
        points = pool.submit(_timed_points, lake, sha256=file_row["sha256"])
        with engine.begin() as connection:
            if _add_deltas_once(connection, deltas, file_id=file_row["id"]):
                refresh_statistics(connection, [t.name for t in ROLLUPS])  # seen once committed
                clock.laps["points_s"] = points.result()  # published only with its points
                now = utcnow()
                connection.execute(
                    trip_files.update()
                    .where(trip_files.c.id == file_row["id"])
                    .values(state="complete", finished_at=now, published_at=now)
                )
        clock.lap("rollups_s")
        if trips_analysed is None:
            analyse_trips(engine, file_id=file_row["id"])
        else:
            trips_analysed.result()
    clock.lap("statistics_s")
    return clock.laps


def _timed_points(lake: Lake, *, sha256: str) -> float:
    started = time.monotonic()
    bronze = lake.list_files(*bronze_dir(sha256))
    if bronze:
        write_points(lake, sha256=sha256, bronze_files=bronze)
    return round(time.monotonic() - started, 3)


def _add_deltas_once(connection: Connection, deltas: dict[str, pa.Table], *, file_id: int) -> bool:
    """The deltas into every rollup unless the file is already published (False then)."""
    loaded = _rows_loaded(connection, file_id)
    days = deltas["trip_day_counts"]
    in_bronze = sum(days["trips"].to_pylist()) if days.num_rows else 0  # a file of no trip
    if in_bronze != loaded:
        raise ServiceError(
            f"bronze of file {file_id} holds {in_bronze} trips but {loaded} were "
            "committed; not publishing: rerun the ingestion with --force"
        )
    published = connection.execute(
        sa.select(trip_files.c.published_at).where(trip_files.c.id == file_id).with_for_update()
    ).scalar()
    if published is not None:
        return False
    for table in ROLLUPS:
        if deltas[table.name].num_rows:
            add_to_rollup(connection, table, deltas[table.name], sign=1)
    return True


def _rows_loaded(connection: Connection, file_id: int) -> int:
    query = sa.select(trip_files.c.rows_loaded).where(trip_files.c.id == file_id)
    return int(connection.execute(query).scalar_one())


class Stopwatch:
    """Seconds between successive laps, by name."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name] = round(now - self._last, 3)
        self._last = now


def refresh_statistics(connection: Connection, tables: list[str]) -> None:
    """Planner statistics after a bulk load: without them PostgreSQL takes the new trips
    for a handful and picks full scans (seen: 2.8 s instead of 4 ms for GET /vehicles)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA analysis_limit = 1000")  # sample, don't scan
    for name in tables:
        connection.exec_driver_sql(f'ANALYZE "{name}"')


STALE_FRACTION = 0.2  # PostgreSQL's autovacuum re-analyses past 10 % of new rows itself


def analyse_trips(engine: Engine, *, file_id: int) -> None:
    """ANALYZE `trips` when the file grew it by a large fraction (or it never was): at 100 M
    rows an ANALYZE is ~30 k random page reads that queue ahead of the queries' reads."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            known = connection.execute(
                sa.text("SELECT reltuples FROM pg_class WHERE oid = 'trips'::regclass")
            ).scalar()
            added = _rows_loaded(connection, file_id)
            if known is not None and known > 0 and added < STALE_FRACTION * known:
                return
        refresh_statistics(connection, ["trips"])


def unpublish_file(
    connection: Connection, lake: Lake, *, file_row: dict[str, Any], group_resolution: int
) -> None:
    """Take a published file's deltas back out (before a forced reload of the same content)."""
    if file_row.get("published_at") is None:
        return
    deltas = file_deltas(lake, sha256=file_row["sha256"], group_resolution=group_resolution)
    remove_points(lake, sha256=file_row["sha256"])
    for table in ROLLUPS:
        add_to_rollup(connection, table, deltas[table.name], sign=-1)
        connection.execute(table.delete().where(table.c.trips <= 0))
    connection.execute(
        trip_files.update().where(trip_files.c.id == file_row["id"]).values(published_at=None)
    )


def add_to_rollup(connection: Connection, table: sa.Table, delta: pa.Table, *, sign: int) -> None:
    """Upsert: counts and sums are added (or subtracted), first/last seen widened."""
    if delta.num_rows == 0:
        return
    columns = [c.name for c in table.columns]
    keys = [c.name for c in table.primary_key.columns]
    # In key order the indexes grow at their right edge (-20 % for trip_groups at 10 M).
    delta = delta.sort_by([(key, "ascending") for key in keys])
    if sign > 0 and _locked_and_empty(connection, table):
        bulk_insert(connection, table, delta.select(columns))  # nothing to add to: no upsert
        return
    staging = _staging(connection, table)
    if sign < 0:
        delta = _negated(delta)
    bulk_insert(connection, staging, delta.select(columns))
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    # PostgreSQL's least/greatest are SQLite's two-argument (scalar) min/max.
    least = sa.func.least if postgres else sa.func.min
    greatest = sa.func.greatest if postgres else sa.func.max
    statement = insert(table).from_select(
        [c.name for c in table.columns], sa.select(staging).where(sa.true())
    )
    updates: dict[str, Any] = {}
    for column in table.columns:
        if column.name in SUMMED:
            updates[column.name] = column + statement.excluded[column.name]
        elif column.name == "first_seen":
            updates[column.name] = least(column, statement.excluded[column.name])
        elif column.name == "last_seen":
            updates[column.name] = greatest(column, statement.excluded[column.name])
    connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates))
    connection.execute(sa.text(f"DROP TABLE {staging.name}"))  # our own table name


def _locked_and_empty(connection: Connection, table: sa.Table) -> bool:
    """PostgreSQL: other writers of the rollup wait until this transaction ends (readers
    don't); then whether it holds no row, so that a first load skips the upsert (a bulk
    upsert costs ~6 us a row, COPY well under one)."""
    if connection.dialect.name != "postgresql":
        return False
    connection.execute(sa.text(f"LOCK TABLE {table.name} IN SHARE ROW EXCLUSIVE MODE"))
    return connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None


def _staging(connection: Connection, table: sa.Table) -> sa.Table:
    name = f"staging_{table.name}"
    connection.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))  # names are our own
    connection.execute(
        sa.text(f"CREATE TEMPORARY TABLE {name} AS SELECT * FROM {table.name} WHERE 1 = 0")
    )
    return sa.Table(name, sa.MetaData(), *(sa.Column(c.name, c.type) for c in table.columns))


def _negated(delta: pa.Table) -> pa.Table:
    import pyarrow.compute as pc

    columns = {
        name: pc.negate(delta[name]) if name in SUMMED else delta[name]
        for name in delta.column_names
    }
    return pa.table(columns)
