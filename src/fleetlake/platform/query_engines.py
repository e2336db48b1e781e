"""Query engines: one SQL text run over the lake by DuckDB (default) or Apache Spark.

A transform is written once with a few dialect placeholders, filled by `Dialect.fill`:

    {q:name}        a quoted identifier            "name" / `name`
    {epoch}(expr)   seconds since 1970, a double   epoch_us(expr) / 1e6 / unix_micros(expr) / 1e6
    {hour}(expr)    the timestamp cut to its hour  date_trunc('hour', expr)

Inputs are named views, each a list of Parquet files of the lake or an Arrow table; the
answer comes back as an Arrow table, so what is written from it is the same for both.
Spark needs the optional extra `fleetlake[spark]` and a Java 17+ runtime.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import pyarrow as pa

from fleetlake.errors import InvalidParameter, ServiceError
from fleetlake.platform.lake import Lake

ENGINES = ("duckdb", "spark")
View: TypeAlias = Sequence[str] | pa.Table  # Parquet paths in the lake, or rows in memory
_CALL = re.compile(r"\{(epoch|hour)\}\(")


@dataclass(frozen=True)
class Dialect:
    quote: str
    epoch_us: str

    def fill(self, sql: str) -> str:
        """The text with every placeholder replaced by this engine's spelling."""
        sql = re.sub(r"\{q:(\w+)\}", lambda m: f"{self.quote}{m[1]}{self.quote}", sql)
        while match := _CALL.search(sql):
            start, depth, end = match.end(), 1, match.end()
            while depth:  # find the call's closing bracket
                depth += {"(": 1, ")": -1}.get(sql[end], 0)
                end += 1
            argument = sql[start : end - 1]
            if match[1] == "epoch":
                spelled = f"({self.epoch_us}({argument}) / 1e6)"
            else:
                spelled = f"date_trunc('hour', {argument})"
            sql = sql[: match.start()] + spelled + sql[end:]
        return sql


class QueryEngine(Protocol):
    name: str
    dialect: Dialect

    def query(self, sql: str, *, views: Mapping[str, View]) -> pa.Table: ...

    def close(self) -> None: ...


class DuckDbEngine:
    """A fresh in-process DuckDB connection a query, bounded in memory."""

    name = "duckdb"
    dialect = Dialect(quote='"', epoch_us="epoch_us")

    def __init__(self, lake: Lake, *, memory_limit_mb: int = 1024) -> None:
        self.lake = lake
        self.memory_limit_mb = memory_limit_mb

    def query(self, sql: str, *, views: Mapping[str, View]) -> pa.Table:
        connection = self.lake.duckdb(memory_limit_mb=self.memory_limit_mb)
        try:
            connection.execute("SET TimeZone = 'UTC'")
            for name, source in views.items():
                if isinstance(source, pa.Table):
                    connection.register(name, source)
                else:
                    paths = self.lake.duckdb_paths(list(source))
                    connection.read_parquet(paths, union_by_name=True).create_view(name)
            return connection.sql(self.dialect.fill(sql)).to_arrow_table()
        finally:
            connection.close()

    def close(self) -> None:
        """Nothing held between queries."""


class SparkEngine:
    """A Spark session (local by default, or `master` such as spark://host:7077) whose
    executors read the lake's files where they are: a local lake or a shared mount."""

    name = "spark"
    dialect = Dialect(quote="`", epoch_us="unix_micros")

    def __init__(self, lake: Lake, *, master: str) -> None:
        if not lake.is_local:
            raise InvalidParameter(
                "engine",
                f"the spark engine reads local or mounted lakes, not {lake.root!r}: "
                "use --engine duckdb, or mount the store and point FLEETLAKE_LAKE_URI at it",
            )
        try:
            from pyspark.sql import SparkSession
        except ImportError as error:
            raise ServiceError(
                "the spark engine needs pyspark: pip install 'fleetlake[spark]' "
                "(and a Java 17+ runtime)"
            ) from error
        self.lake = lake
        self.scratch = Path(tempfile.mkdtemp(prefix="fleetlake-spark-"))
        self.session: Any = (
            SparkSession.builder.master(master)
            .appName("fleetlake")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.local.dir", str(self.scratch))
            .getOrCreate()
        )
        self.session.sparkContext.setLogLevel("ERROR")

    def query(self, sql: str, *, views: Mapping[str, View]) -> pa.Table:
        staged: list[Path] = []
        try:
            for name, source in views.items():
                if isinstance(source, pa.Table):
                    staged.append(self._stage(source))
                    paths = [str(staged[-1])]
                else:
                    paths = list(source)
                frame = self.session.read.option("mergeSchema", "true").parquet(*paths)
                frame.createOrReplaceTempView(name)
            table: pa.Table = self.session.sql(self.dialect.fill(sql)).toArrow()
        finally:
            for name in views:
                self.session.catalog.dropTempView(name)
            for path in staged:
                path.unlink(missing_ok=True)
        return table

    def _stage(self, table: pa.Table) -> Path:
        """Rows in memory reach Spark as a Parquet file of the session's scratch folder
        (no pandas needed, and executors elsewhere could be handed the same file)."""
        import pyarrow.parquet as pq

        path = self.scratch / f"{uuid.uuid4().hex}.parquet"
        pq.write_table(table, path)
        return path

    def close(self) -> None:
        self.session.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)


def open_query_engine(name: str, *, lake: Lake, spark_master: str = "local[2]") -> QueryEngine:
    if name == "duckdb":
        return DuckDbEngine(lake)
    if name == "spark":
        return SparkEngine(lake, master=spark_master)
    raise InvalidParameter("engine", f"unknown engine {name!r}: use {' or '.join(ENGINES)}")
