"""A job's niceness follows its connection to the PostgreSQL backend, and goes back down
before a request at normal priority uses that backend."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from fleetlake.platform.priority import (
    follow_thread_priority,
    local_backend_pid,
    lower_thread_priority,
)

pytestmark = pytest.mark.services


def _backend_pid(connection: sa.Connection) -> int:
    return int(connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _skip_unless_backends_are_local(pid: int) -> None:
    """The server's processes are visible here (not in a container or on another host)."""
    status = Path(f"/proc/{pid}/status")
    if not (status.exists() and "\tpostgres" in status.read_text().splitlines()[0]):
        pytest.skip(f"PostgreSQL backend {pid} is not a process of this machine")


def _pid_in_niced_thread(engine: sa.Engine, nice: int) -> int:
    found: list[int] = []

    def job() -> None:
        lower_thread_priority(nice)
        with engine.connect() as connection:
            found.append(_backend_pid(connection))
            found.append(os.getpriority(os.PRIO_PROCESS, found[0]))

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    pid, backend_nice = found
    _skip_unless_backends_are_local(pid)
    assert backend_nice == nice
    return pid


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may lower a backend's niceness again")
def test_a_niced_threads_backend_is_niced_and_restored_for_the_next_user(pg_url: str) -> None:
    engine = sa.create_engine(pg_url, pool_size=1, max_overflow=0)
    follow_thread_priority(engine)
    try:
        pid = _pid_in_niced_thread(engine, 10)
        with engine.connect() as connection:  # this thread runs at niceness 0
            assert _backend_pid(connection) == pid
            assert os.getpriority(os.PRIO_PROCESS, pid) == 0
        assert _pid_in_niced_thread(engine, 7) == pid  # same backend, niced again
    finally:
        engine.dispose()


def test_only_a_postgres_process_of_this_machine_is_taken_for_the_backend(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.connect() as connection:
        pid = _backend_pid(connection)
        _skip_unless_backends_are_local(pid)
        assert local_backend_pid(connection.connection.driver_connection) == pid
    engine.dispose()
    remote = SimpleNamespace(info=SimpleNamespace(host="db.example.com", backend_pid=pid))
    assert local_backend_pid(remote) is None
    # An address of this machine whose process id is not a PostgreSQL process (a container).
    not_postgres = SimpleNamespace(info=SimpleNamespace(host="127.0.0.1", backend_pid=os.getpid()))
    assert local_backend_pid(not_postgres) is None
