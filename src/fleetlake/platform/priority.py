"""CPU priority of jobs (`FLEETLAKE_JOB_NICE`): on a busy machine a job yields the CPU to
API requests. Linux sets niceness per thread, so a job thread and the threads it starts run
niced while the API threads of the same process do not.

The niceness is carried to the job's PostgreSQL backend when the database runs on this
machine, so that the COPY and index work done for the job yields too: on each checkout the
backend is set to the checking-out thread's niceness, and a backend that cannot be brought
back down (only root may) is replaced rather than handed to a request. Best effort: a remote
database, a backend in another PID namespace or a missing permission leaves it as it is.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
NICE_KEY = "backend_nice"  # the backend's niceness as last set, in the pool record
PER_THREAD = sys.platform.startswith("linux")  # per-thread niceness and /proc are Linux's


def thread_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def lower_thread_priority(nice: int) -> None:
    """Run this thread, and the threads it starts, at niceness `nice`; only ever up."""
    if nice <= 0 or not PER_THREAD:
        return  # elsewhere the call would nice the whole process, API threads included
    if thread_niceness() < nice:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


def local_backend_pid(dbapi_connection: Any) -> int | None:
    """The backend's process id when it is a PostgreSQL process of this machine, else None."""
    info = dbapi_connection.info
    if not (info.host.startswith("/") or info.host in LOCAL_HOSTS):
        return None
    pid = int(info.backend_pid)
    try:  # a database in a container shares the address, not the process ids
        title = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if title.startswith(b"postgres") else None


def follow_thread_priority(engine: Engine) -> None:
    """Give each checked-out PostgreSQL connection's backend the niceness of the thread
    that checks it out."""
    if engine.dialect.name != "postgresql" or not PER_THREAD:
        return

    @sa.event.listens_for(engine, "checkout")
    def _match_thread(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        wanted = thread_niceness()
        current = record.info.get(NICE_KEY, 0)
        if current is None or wanted == current:  # None: out of reach, never niced
            return
        pid = local_backend_pid(dbapi_connection)
        try:
            if pid is None:
                raise PermissionError("backend out of reach")
            os.setpriority(os.PRIO_PROCESS, pid, wanted)
        except (PermissionError, ProcessLookupError) as exc:
            if current > 0:  # never serve a request from a backend left niced
                raise sa.exc.DisconnectionError("niced backend not reusable") from exc
            record.info[NICE_KEY] = None
            return
        record.info[NICE_KEY] = wanted
