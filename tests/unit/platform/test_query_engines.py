"""Dialect placeholders, and the DuckDB engine over files and Arrow views."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from fleetlake.errors import InvalidParameter
from fleetlake.platform.lake import Lake
from fleetlake.platform.query_engines import DuckDbEngine, SparkEngine, open_query_engine


def test_placeholders_are_spelled_per_engine_with_nested_calls() -> None:
    text = "SELECT {q:vin}, {epoch}(coalesce(ts, greatest(a, b))) - 1, {hour}(ts) FROM t"
    assert DuckDbEngine.dialect.fill(text) == (
        'SELECT "vin", (epoch_us(coalesce(ts, greatest(a, b))) / 1e6) - 1, '
        "date_trunc('hour', ts) FROM t"
    )
    assert SparkEngine.dialect.fill(text) == (
        "SELECT `vin`, (unix_micros(coalesce(ts, greatest(a, b))) / 1e6) - 1, "
        "date_trunc('hour', ts) FROM t"
    )


def test_duckdb_engine_reads_lake_files_and_arrow_tables(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    at = datetime(2026, 11, 16, 10, 30, 15, 250000, tzinfo=UTC)
    stamps = pa.array([at], pa.timestamp("us", tz="UTC"))
    path = lake.write_parquet(pa.table({"vin": ["A"], "ts": stamps}), "x", "a.parquet")
    memory = pa.table({"vin": ["B"], "ts": stamps})
    sql = "SELECT vin, {epoch}(ts) AS s, {hour}(ts) AS h FROM f UNION ALL SELECT vin, 0, ts FROM m"
    got = DuckDbEngine(lake).query(sql, views={"f": [path], "m": memory}).sort_by("vin")
    assert got["s"][0].as_py() == at.timestamp()
    assert got["h"][0].as_py() == at.replace(minute=0, second=0, microsecond=0)


def test_unknown_engines_and_remote_lakes_for_spark_name_the_fix() -> None:
    with pytest.raises(InvalidParameter, match="duckdb or spark"):
        open_query_engine("oracle", lake=Lake("memory://x"))
    with pytest.raises(InvalidParameter, match="mount"):
        SparkEngine(Lake("memory://x"), master="local[1]")
