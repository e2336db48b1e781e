"""The serving database engine: pooled connections killed by the server are replaced."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fleetlake.platform.db import ping_when_idle, plan_for_many_small_queries

pytestmark = pytest.mark.services


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_an_idle_connection_killed_by_the_server_is_replaced_before_use(pg_url: str) -> None:
    engine = sa.create_engine(pg_url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, after_s=0.0)
    killed = _backend_pid(engine)
    _terminate(pg_url, killed)
    assert _backend_pid(engine) != killed  # the ping saw it dead; the pool reconnected
    engine.dispose()


def test_a_recently_used_connection_is_not_pinged(pg_url: str) -> None:
    # Without a ping the dead connection reaches the query: what the idle ping prevents.
    engine = sa.create_engine(pg_url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, after_s=3600.0)
    _terminate(pg_url, _backend_pid(engine))
    with pytest.raises(sa.exc.OperationalError):
        _backend_pid(engine)
    assert _backend_pid(engine) > 0  # and the pool recovers on the next checkout
    engine.dispose()


def test_a_serving_engine_plans_without_parallel_workers(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.connect() as connection:  # opened before: reconnected with the setting
        default = connection.execute(sa.text("SHOW max_parallel_workers_per_gather")).scalar()
    assert default != "0"
    plan_for_many_small_queries(engine)
    plan_for_many_small_queries(engine)  # idempotent
    for _ in range(2):
        with engine.connect() as connection:
            setting = connection.execute(sa.text("SHOW max_parallel_workers_per_gather"))
            assert setting.scalar() == "0"
    engine.dispose()


def test_concurrent_id_reservations_are_disjoint_and_the_sequence_moves_past_them(
    pg_url: str,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from fleetlake.platform.db import reserve_ids

    engine = sa.create_engine(pg_url, pool_size=8)
    table = sa.Table("reserved", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True))
    table.create(engine)
    sizes = [1, 5, 1000, 7, 250, 3] * 8
    with ThreadPoolExecutor(8) as pool:
        firsts = list(pool.map(lambda n: reserve_ids(engine, table=table, count=n), sizes))
    spans = sorted((first, first + n - 1) for first, n in zip(firsts, sizes, strict=True))
    assert spans[0][0] == 1
    assert all(end + 1 == start for (_, end), (start, _) in itertools.pairwise(spans))  # no overlap
    with engine.begin() as connection:  # a default-id insert lands past every reservation
        connection.execute(table.insert().values())
        assert connection.execute(sa.select(sa.func.max(table.c.id))).scalar_one() == sum(sizes) + 1
    engine.dispose()


def test_sqlite_assigns_its_own_ids(tmp_path: Path) -> None:
    from fleetlake.platform.db import reserve_ids

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ids.db'}")
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    assert reserve_ids(engine, table=table, count=10) is None


def test_an_interrupted_sqlite_migration_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic.operations import Operations

    from fleetlake.platform.db import create_db_engine, schema_revisions, upgrade

    real = Operations.create_table

    def killed_at_the_last_table(self: Operations, name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "telemetry_vehicle_state":
            raise KeyboardInterrupt("killed mid-migration")
        return real(self, name, *args, **kwargs)

    engine = create_db_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    with monkeypatch.context() as patch:
        patch.setattr(Operations, "create_table", killed_at_the_last_table)
        with pytest.raises(KeyboardInterrupt):
            upgrade(engine)
    with engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == []  # all or nothing
    upgrade(engine)
    assert schema_revisions(engine)[0] == schema_revisions(engine)[1]
    engine.dispose()
