"""The machine's limits for loading trips, measured on the same rows as the ingestion.

Each function loads the simulated CSV (or a sample of it) by one well-known path and returns
{"rows", "seconds", "rows_per_s"}. The slow paths run on a sample: their rate is what counts.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

BATCH_ROWS = 100_000
COLUMNS_SQL = (  # the parsed trip, keyed like any serving table
    "id BIGSERIAL PRIMARY KEY, "
    "region TEXT, origin_lon DOUBLE PRECISION, origin_lat DOUBLE PRECISION, "
    "destination_lon DOUBLE PRECISION, destination_lat DOUBLE PRECISION, "
    "datetime TIMESTAMPTZ, datasource TEXT"
)
PARSED = "region, origin_lon, origin_lat, destination_lon, destination_lat, datetime, datasource"
# CSV -> typed columns: POINT text split into lon/lat, times read as UTC.
PARSE_SQL = """
SELECT region,
       CAST(string_split(origin_coord[8:-2], ' ')[1] AS DOUBLE) AS origin_lon,
       CAST(string_split(origin_coord[8:-2], ' ')[2] AS DOUBLE) AS origin_lat,
       CAST(string_split(destination_coord[8:-2], ' ')[1] AS DOUBLE) AS destination_lon,
       CAST(string_split(destination_coord[8:-2], ' ')[2] AS DOUBLE) AS destination_lat,
       CAST(strptime(datetime, '%Y-%m-%d %H:%M:%S') AS TIMESTAMPTZ) AS datetime,
       datasource
FROM read_csv('{csv}', header = true, all_varchar = true)
"""


def timed(rows: int, load: Callable[[], Any]) -> dict[str, float]:
    started = time.perf_counter()
    load()
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def duckdb_csv_to_parquet(csv: Path, parquet: Path) -> dict[str, float]:
    """DuckDB reads the CSV, parses points and times, writes zstd Parquet."""
    import duckdb

    db = duckdb.connect()
    db.execute("SET threads = 2; SET memory_limit = '2GB'; SET TimeZone = 'UTC'")
    started = time.perf_counter()
    db.execute(
        f"COPY ({PARSE_SQL.format(csv=csv)}) TO '{parquet}' (FORMAT parquet, COMPRESSION zstd)"
    )
    seconds = time.perf_counter() - started
    db.close()
    rows = rows_in(parquet)
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def sample_parquet(parquet: Path, out: Path, rows: int) -> Path:
    """The first `rows` rows of `parquet` (untimed preparation for the sampled paths)."""
    if pq.ParquetFile(parquet).metadata.num_rows <= rows:
        return parquet
    writer: pq.ParquetWriter | None = None
    left = rows
    for batch in _batches(parquet):
        batch = batch.slice(0, min(left, batch.num_rows))
        writer = writer or pq.ParquetWriter(out, batch.schema)
        writer.write_batch(batch)
        left -= batch.num_rows
        if left == 0:
            break
    assert writer is not None
    writer.close()
    return out


def _batches(parquet: Path) -> Iterator[pa.RecordBatch]:
    yield from pq.ParquetFile(parquet).iter_batches(batch_size=BATCH_ROWS)


def rows_in(parquet: Path) -> int:
    return int(pq.ParquetFile(parquet).metadata.num_rows)


def _fresh_table(connection: Any, name: str) -> None:
    connection.execute(f"DROP TABLE IF EXISTS {name}")
    connection.execute(f"CREATE TABLE {name} ({COLUMNS_SQL})")
    connection.commit()


def _drop(connection: Any, name: str) -> None:
    connection.execute(f"DROP TABLE IF EXISTS {name}")
    connection.commit()


def pgpq_binary_copy(dsn: str, parquet: Path) -> dict[str, float]:
    """Arrow batches encoded by pgpq to PostgreSQL's binary COPY format (psycopg copy.write)."""
    import pgpq
    import psycopg

    with psycopg.connect(dsn) as connection:
        _fresh_table(connection, "limit_binary_copy")

        def load() -> None:
            encoder = pgpq.ArrowToPostgresBinaryEncoder(pq.ParquetFile(parquet).schema_arrow)
            with (
                connection.cursor() as cursor,
                cursor.copy(
                    f"COPY limit_binary_copy ({PARSED}) FROM STDIN WITH (FORMAT BINARY)"
                ) as copy,
            ):
                copy.write(encoder.write_header())
                for batch in _batches(parquet):
                    copy.write(encoder.write_batch(batch))
                copy.write(encoder.finish())
            connection.commit()

        result = timed(rows_in(parquet), load)
        _drop(connection, "limit_binary_copy")
    return result


def adbc_ingest(dsn: str, parquet: Path) -> dict[str, float]:
    """ADBC's PostgreSQL driver, `adbc_ingest` of an Arrow stream."""
    from adbc_driver_postgresql import dbapi

    with dbapi.connect(dsn) as connection:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS limit_adbc")
            cursor.execute(f"CREATE TABLE limit_adbc ({COLUMNS_SQL})")
        connection.commit()

        def load() -> None:
            reader = pq.ParquetFile(parquet).iter_batches(batch_size=BATCH_ROWS)
            schema = pq.ParquetFile(parquet).schema_arrow
            with connection.cursor() as cursor:
                cursor.adbc_ingest(
                    "limit_adbc", pa.RecordBatchReader.from_batches(schema, reader), mode="append"
                )
            connection.commit()

        result = timed(rows_in(parquet), load)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE limit_adbc")
        connection.commit()
    return result


def text_copy(dsn: str, parquet: Path, scratch: Path) -> dict[str, float]:
    """CSV text `COPY FROM STDIN` (the server parses every value)."""
    import duckdb
    import psycopg

    csv = scratch / "limit_text.csv"
    duckdb.sql(f"COPY (SELECT * FROM '{parquet}') TO '{csv}' (HEADER, DELIMITER ',')")
    with psycopg.connect(dsn) as connection:
        _fresh_table(connection, "limit_text_copy")

        def load() -> None:
            with (
                connection.cursor() as cursor,
                cursor.copy(
                    f"COPY limit_text_copy ({PARSED}) FROM STDIN WITH (FORMAT csv, HEADER true)"
                ) as copy,
                csv.open("rb") as handle,
            ):
                while block := handle.read(1 << 20):
                    copy.write(block)
            connection.commit()

        result = timed(rows_in(parquet), load)
        _drop(connection, "limit_text_copy")
    csv.unlink()
    return result


def row_by_row(dsn: str, parquet: Path) -> dict[str, float]:
    """psycopg `copy.write_row`, one Python tuple per trip (datetimes built in Python)."""
    import psycopg

    with psycopg.connect(dsn) as connection:
        _fresh_table(connection, "limit_row_by_row")

        def load() -> None:
            with (
                connection.cursor() as cursor,
                cursor.copy(f"COPY limit_row_by_row ({PARSED}) FROM STDIN") as copy,
            ):
                for batch in _batches(parquet):
                    for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                        copy.write_row(row)
            connection.commit()

        result = timed(rows_in(parquet), load)
        _drop(connection, "limit_row_by_row")
    return result


def sqlite_executemany(database: Path, parquet: Path) -> dict[str, float]:
    """SQLite `executemany` in one transaction, values from Arrow."""
    connection = sqlite3.connect(database)
    columns = (
        COLUMNS_SQL.replace("DOUBLE PRECISION", "REAL")
        .replace("TIMESTAMPTZ", "TEXT")
        .replace("BIGSERIAL", "INTEGER")
    )
    connection.execute(f"CREATE TABLE limit_executemany ({columns})")

    def load() -> None:
        for batch in _batches(parquet):
            values = [c.to_pylist() for c in batch.columns]
            values[5] = [str(v) for v in values[5]]
            connection.executemany(
                f"INSERT INTO limit_executemany ({PARSED}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                zip(*values, strict=True),
            )
        connection.commit()

    result = timed(rows_in(parquet), load)
    connection.close()
    database.unlink()
    return result


def pandas_to_sql(url: str, csv: Path, rows: int) -> dict[str, float]:
    """The naive load: pandas reads the CSV, splits the points and calls `DataFrame.to_sql`."""
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(url)

    def load() -> None:
        frame = pd.read_csv(csv, nrows=rows)
        for side in ("origin", "destination"):
            points = frame.pop(f"{side}_coord").str.slice(7, -1).str.split(" ", expand=True)
            frame[f"{side}_lon"] = points[0].astype(float)
            frame[f"{side}_lat"] = points[1].astype(float)
        frame["datetime"] = pd.to_datetime(frame["datetime"], utc=True)
        frame.to_sql("limit_pandas", engine, if_exists="replace", index=False, chunksize=10_000)

    result = timed(rows, load)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS limit_pandas"))
    engine.dispose()
    return result
