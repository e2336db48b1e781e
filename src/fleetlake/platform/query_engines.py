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
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from subprocess import STDOUT, TimeoutExpired
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
    executors read the lake's files where they are: a local lake or a shared mount.

    The engine owns its JVM: started with the run, its console output sent to `log_path`
    (never into the progress shown to the user), and stopped by `close` when the run ends,
    so a long-lived server holds no idle JVM. One Spark run at a time in a process: a second
    one waits for the first to close (Spark allows one context a process)."""

    name = "spark"
    dialect = Dialect(quote="`", epoch_us="unix_micros")
    _one_at_a_time = threading.Lock()

    def __init__(self, lake: Lake, *, master: str, log_path: Path | None = None) -> None:
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
        self.log_path = log_path or self.scratch / "spark.log"
        self._one_at_a_time.acquire()
        try:
            self.session: Any = SparkSession(self._start_context(master))
        except BaseException:
            self._stop_jvm()
            raise
        self.session.sparkContext.setLogLevel("ERROR")

    def _start_context(self, master: str) -> Any:
        from pyspark import SparkConf, SparkContext
        from pyspark.java_gateway import launch_gateway

        conf = (
            SparkConf()
            .setMaster(master)
            .setAppName("fleetlake")
            .set("spark.sql.session.timeZone", "UTC")
            .set("spark.ui.enabled", "false")
            .set("spark.ui.showConsoleProgress", "false")
            .set("spark.sql.shuffle.partitions", "8")
            .set("spark.local.dir", str(self.scratch))
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the JVM keeps its own copy of the descriptor
            popen = {"stdout": log, "stderr": STDOUT}
            gateway = launch_gateway(conf, popen_kwargs=popen)  # type: ignore[no-untyped-call]
        return SparkContext(conf=conf, gateway=gateway)

    def _stop_jvm(self) -> None:
        """Stop the context, the Py4J gateway and the JVM process behind it."""
        from pyspark import SparkContext

        try:
            gateway = SparkContext._gateway
            if SparkContext._active_spark_context is not None:
                SparkContext._active_spark_context.stop()
            if gateway is not None:
                gateway.shutdown()
                process = getattr(gateway, "proc", None)
                if process is not None:  # the JVM exits when its stdin closes
                    process.stdin.close()
                    try:
                        process.wait(timeout=30)
                    except TimeoutExpired:
                        process.kill()
            SparkContext._gateway = None
            SparkContext._jvm = None
        finally:
            self._one_at_a_time.release()

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
        try:
            self._stop_jvm()
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)


def open_query_engine(
    name: str, *, lake: Lake, spark_master: str = "local[2]", spark_log: Path | None = None
) -> QueryEngine:
    if name == "duckdb":
        return DuckDbEngine(lake)
    if name == "spark":
        return SparkEngine(lake, master=spark_master, log_path=spark_log)
    raise InvalidParameter("engine", f"unknown engine {name!r}: use {' or '.join(ENGINES)}")
