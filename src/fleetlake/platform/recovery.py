"""Crash recovery: a job whose process died (a dead pid on this host, or no heartbeat) is
marked failed at the next start, and its kind's recovery tidies what it left behind."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fleetlake.platform.jobs import ACTIVE_STATES, HOST, finish_job, recoveries, utcnow
from fleetlake.platform.tables import jobs

log = logging.getLogger(__name__)


def recover_interrupted(
    engine: Engine,
    *,
    stale_after: timedelta = timedelta(minutes=5),
    load_kinds: Callable[[], None] = lambda: None,
) -> list[int]:
    """Mark failed every active job whose worker is gone (dead pid here, or no heartbeat),
    and run its kind's recovery; `load_kinds` registers the kinds, only when one is needed."""
    with engine.connect() as connection:
        active = (
            connection.execute(
                sa.select(
                    jobs.c.id,
                    jobs.c.kind,
                    jobs.c.state,
                    jobs.c.worker_host,
                    jobs.c.worker_pid,
                    jobs.c.heartbeat_at,
                    jobs.c.created_at,
                ).where(jobs.c.state.in_(ACTIVE_STATES))
            )
            .mappings()
            .all()
        )
    now = utcnow()
    dead = [job for job in active if _worker_gone(job, now=now, stale_after=stale_after)]
    if dead:
        load_kinds()
    for job in dead:
        finish_job(
            engine,
            job_id=job["id"],
            state="failed",
            error="interrupted: the process running this job stopped; retry it",
        )
        if (recover := recoveries().get(job["kind"])) is not None:
            try:
                recover(engine, job["id"])
            except Exception:  # the retry tidies again; a start never fails on it
                log.exception("recovering job %s left files behind", job["id"])
    return [job["id"] for job in dead]


def _worker_gone(job: Any, *, now: datetime, stale_after: timedelta) -> bool:
    if job["worker_host"] == HOST and job["worker_pid"]:
        return not _pid_alive(job["worker_pid"])
    # Queued jobs and jobs of other hosts: only silence tells.
    return bool(now - (job["heartbeat_at"] or job["created_at"]) > stale_after)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
