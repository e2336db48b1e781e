"""Serving database: engine, schema check/migration, dialect-aware bulk load."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.errors import SchemaOutdated, ServiceError
from fleetlake.platform.priority import follow_thread_priority

log = logging.getLogger(__name__)

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
IDLE_PING_AFTER_S = 2.0


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; nothing else is installed."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # A pool as deep as the requests served at once (see below), and no ping: a local
        # file does not drop connections; opening one runs four PRAGMAs.
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=24,
            max_overflow=8,
        )
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    # No automatic server-side prepares: a generic plan for a long IN list is a full scan.
    # The pool keeps as many connections as requests run at once under load: connections
    # opened past it ("overflow") are closed after each use, and reconnecting cost 5-10 ms.
    engine = sa.create_engine(
        url, pool_size=24, max_overflow=8, connect_args={"prepare_threshold": None}
    )
    ping_when_idle(engine, after_s=IDLE_PING_AFTER_S)
    follow_thread_priority(engine)
    return engine


def ping_when_idle(engine: Engine, *, after_s: float) -> None:
    """Check a pooled connection before use only when it sat idle for `after_s` or more.

    A server restart or an idle timeout kills idle connections, which a ping replaces
    before a request sees them; a ping on every checkout (pool_pre_ping) doubled the round
    trips of the busiest reads, whose connections are never idle long.
    """

    @sa.event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < after_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DisconnectionError(f"stale pooled connection: {exc}") from exc


def _serial_plans(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")
    dbapi_connection.commit()


def plan_for_many_small_queries(engine: Engine) -> None:
    """No parallel plans on a serving process's connections: it answers many small queries
    at once on few cores, and a parallel plan takes the cores the other requests need
    (seen: a filtered `LIMIT 100` by id, 21 ms serial, 186 ms with two workers)."""
    if engine.dialect.name != "postgresql" or sa.event.contains(engine, "connect", _serial_plans):
        return
    sa.event.listen(engine, "connect", _serial_plans)
    engine.pool.dispose()  # pooled connections opened before this reconnect with it


def get_engine(url: str, *, auto_upgrade_sqlite: bool = True) -> Engine:
    """One engine per URL per process; SQLite is migrated to head on first use."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_db_engine(url)
            if engine.dialect.name == "sqlite" and auto_upgrade_sqlite:
                upgrade(engine)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate in one transaction: a process killed midway leaves the schema as it was."""
    from alembic import command

    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), revision)
        return
    # pysqlite runs DDL outside any transaction (each CREATE commits at once); with its own
    # transaction handling off, one explicit BEGIN IMMEDIATE holds the whole migration.
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        previous = driver.isolation_level
        driver.isolation_level = None
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                command.upgrade(_alembic_config(connection), revision)
                driver.execute("COMMIT")
            except BaseException:
                driver.execute("ROLLBACK")
                raise
        finally:
            connection.rollback()  # SQLAlchemy's own view of the connection: nothing open
            driver.isolation_level = previous


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """(current revision of the database, head revision of this code)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        head = ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()
    assert head is not None
    return current, head


def require_current_schema(engine: Engine) -> None:
    try:
        current, head = schema_revisions(engine)
    except sa.exc.OperationalError as exc:
        raise ServiceError(f"cannot reach the database: {exc.orig}") from exc
    if current != head:
        raise SchemaOutdated(
            f"database schema is at {current or 'nothing'}, this fleetlake needs {head}: "
            "run `fleetlake db upgrade`",
            current=current,
            head=head,
        )


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as connection:
        yield connection


def reserve_ids(engine: Engine, *, table: sa.Table, count: int) -> int | None:
    """The first of `count` consecutive ids taken from the table's id sequence (PostgreSQL),
    or None where the database assigns ids itself (SQLite).

    Sending ids with a bulk COPY spares the server a sequence call per row (measured: 15 %
    of its COPY time). The reservation is its own short transaction, under a lock per
    sequence, so concurrent loads get disjoint ranges without waiting on each other's COPY;
    ids of a load that fails are skipped, as with any sequence. Other writers of the table
    must reserve the same way (fleetlake has none).
    """
    if engine.dialect.name != "postgresql" or count <= 0:
        return None
    with engine.begin() as connection:
        sequence = connection.execute(
            sa.select(sa.func.pg_get_serial_sequence(table.name, "id"))
        ).scalar_one()
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(sequence))))
        last = connection.execute(
            sa.select(sa.func.setval(sequence, sa.func.nextval(sequence) + (count - 1)))
        ).scalar_one()
    return int(last) - count + 1


def bulk_insert(connection: Connection, table: sa.Table, batch: Any) -> int:
    """Append a pyarrow Table/RecordBatch by the fastest path of the dialect."""
    if batch.num_rows == 0:
        return 0
    if connection.dialect.name == "postgresql":
        return _copy_postgres(connection, table, batch)
    return _executemany(connection, table, batch)


def _copy_postgres(connection: Connection, table: sa.Table, batch: Any) -> int:
    """Binary COPY of Arrow batches (pgpq encodes them): no text parsing on the server."""
    import pgpq
    import pyarrow as pa

    batch = _postgres_ready(batch)
    encoder = pgpq.ArrowToPostgresBinaryEncoder(batch.schema)
    preparer = connection.dialect.identifier_preparer
    column_sql = ", ".join(preparer.quote(c) for c in batch.schema.names)
    statement = f"COPY {preparer.quote(table.name)} ({column_sql}) FROM STDIN WITH (FORMAT BINARY)"
    raw = connection.connection.driver_connection
    assert raw is not None
    batches = batch.to_batches() if isinstance(batch, pa.Table) else [batch]
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(encoder.write_header())
        for record_batch in batches:
            copy.write(encoder.write_batch(record_batch))
        copy.write(encoder.finish())
    return int(batch.num_rows)


def _postgres_ready(batch: Any) -> Any:
    """Arrow types whose binary form PostgreSQL takes as-is (timestamps in microseconds)."""
    import pyarrow as pa

    fields = []
    for field in batch.schema:
        if pa.types.is_timestamp(field.type) and field.type.unit != "us":
            field = field.with_type(pa.timestamp("us", tz=field.type.tz))
        elif pa.types.is_large_string(field.type):
            field = field.with_type(pa.string())
        fields.append(field)
    return batch.cast(pa.schema(fields))


def _sqlite_values(column: Any) -> list[Any]:
    """Timestamps as the naive-UTC text SQLAlchemy's SQLite DateTime stores and compares."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_timestamp(column.type):
        micros = pc.cast(pc.cast(column, pa.timestamp("us", tz="UTC")), pa.timestamp("us"))
        # %S of a microsecond timestamp carries its fraction: "05.250000", as SQLAlchemy writes.
        return pc.strftime(micros, format="%Y-%m-%d %H:%M:%S").to_pylist()  # type: ignore[no-any-return]
    return column.to_pylist()  # type: ignore[no-any-return]


def _executemany(connection: Connection, table: sa.Table, batch: Any) -> int:
    columns: Sequence[str] = list(batch.schema.names)
    rows = list(zip(*(_sqlite_values(batch.column(c)) for c in columns), strict=True))
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608
    connection.exec_driver_sql(statement, rows)
    return len(rows)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with Z, as the API writes times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def rfc3339_ms(moment: datetime) -> str:
    """RFC 3339 in UTC to the millisecond with Z (YYYY-MM-DDThh:mm:ss.mmmZ), as Omnia's
    timeseries API writes and reads times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class UtcDateTime(sa.types.TypeDecorator[Any]):
    """Timezone-aware UTC in Python on every dialect (SQLite stores naive UTC text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: fleetlake keeps time timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
