"""The serving database engine: pooled connections killed by the server are replaced."""

from __future__ import annotations

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
