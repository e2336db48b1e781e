"""Durable jobs: a row with state and progress, an append-only event log, a runner.

States: queued → running → succeeded | failed | cancelled. A job whose process died is
marked failed at the next start (`recovery.recover_interrupted`) and can be retried; the job
function itself is responsible for resuming without duplicating committed work.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.errors import Conflict, NotFound
from fleetlake.platform.events import CHANNEL, bus
from fleetlake.platform.failures import failure_reason
from fleetlake.platform.priority import lower_thread_priority
from fleetlake.platform.redact import redact
from fleetlake.platform.tables import job_events, jobs

log = logging.getLogger(__name__)

ACTIVE_STATES = ("queued", "running")
STREAM_JOB_ID = 0  # what the bus and NOTIFY call a stream event's job: only "every event" wakes
FINAL_EVENT = {"succeeded": "completed", "failed": "failed", "cancelled": "cancelled"}
HOST = socket.gethostname()


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobCancelled(Exception):
    """Raised inside a job function when the user asked to cancel."""


def create_job(
    engine: Engine, *, kind: str, params: dict[str, Any], retry_of: int | None = None
) -> int:
    with engine.begin() as connection:
        result = connection.execute(
            jobs.insert().values(
                kind=kind,
                state="queued",
                params=params,
                results=[],
                created_at=utcnow(),
                retry_of=retry_of,
            )
        )
        job_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        event_id = _insert_event(
            connection, job_id=job_id, type="queued", data={"kind": kind, "params": params}
        )
    bus.publish(job_id, event_id)
    return job_id


def retry_job(engine: Engine, *, job_id: int) -> int:
    """A new queued job with the same kind and params; the old one stays as history."""
    with engine.connect() as connection:
        job = get_job(connection, job_id=job_id)
    if job["state"] in ACTIVE_STATES:
        raise Conflict(f"job {job_id} is {job['state']}; cancel it or wait before retrying")
    return create_job(engine, kind=job["kind"], params=job["params"], retry_of=job_id)


def _insert_event(
    connection: Connection,
    *,
    job_id: int | None,
    type: str,
    data: dict[str, Any],
    stream: str | None = None,
) -> int:
    values = {"job_id": job_id, "type": type, "data": data, "created_at": utcnow()}
    result = connection.execute(job_events.insert().values(**values, stream=stream))
    event_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    if connection.dialect.name == "postgresql":
        notice = f"{job_id or STREAM_JOB_ID}:{event_id}"
        connection.execute(sa.select(sa.func.pg_notify(CHANNEL, notice)))
    return event_id


def append_stream_event(engine: Engine, *, stream: str, type: str, data: dict[str, Any]) -> int:
    """An event of a named stream (no job): stored, fanned out and sent to webhooks alike."""
    return append_stream_events(engine, stream=stream, events=[(type, data)])[0]


def append_stream_events(
    engine: Engine, *, stream: str, events: list[tuple[str, dict[str, Any]]]
) -> list[int]:
    """Several events of a stream in one transaction (a burst costs one commit, not one each)."""
    with engine.begin() as connection:
        ids = [_insert_event(connection, job_id=None, type=type, data=data, stream=stream)
               for type, data in events]  # fmt: skip
    for event_id in ids:
        bus.publish(STREAM_JOB_ID, event_id)
    return ids


def append_event(engine: Engine, *, job_id: int, type: str, data: dict[str, Any]) -> int:
    with engine.begin() as connection:
        event_id = _insert_event(connection, job_id=job_id, type=type, data=data)
    bus.publish(job_id, event_id)
    return event_id


def get_job(connection: Connection, *, job_id: int) -> dict[str, Any]:
    row = connection.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
    if row is None:
        raise NotFound(f"job {job_id} does not exist: list jobs with `fleetlake jobs list`")
    return dict(row)


def list_jobs(
    connection: Connection, *, kind: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    query = sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit)
    if kind:
        query = query.where(jobs.c.kind == kind)
    return [dict(row) for row in connection.execute(query).mappings()]


def list_events(
    connection: Connection,
    *,
    job_id: int | None,
    after_id: int = 0,
    limit: int = 1000,
    stream: str | None = None,
) -> list[dict[str, Any]]:
    """Events after `after_id`, oldest first: of one job, of every job when None, or of a
    named stream."""
    query = sa.select(job_events).where(job_events.c.id > after_id)
    if stream is not None:
        query = query.where(job_events.c.stream == stream)
    elif job_id is not None:
        query = query.where(job_events.c.job_id == job_id)
    else:
        query = query.where(job_events.c.stream.is_(None))
    query = query.order_by(job_events.c.id).limit(limit)
    return [dict(row) for row in connection.execute(query).mappings()]


def request_cancel(engine: Engine, *, job_id: int) -> dict[str, Any]:
    with engine.begin() as connection:
        job = get_job(connection, job_id=job_id)
        if job["state"] not in ACTIVE_STATES:
            raise Conflict(f"job {job_id} is {job['state']}; only queued or running jobs cancel")
        connection.execute(jobs.update().where(jobs.c.id == job_id).values(cancel_requested=True))
    append_event(engine, job_id=job_id, type="cancel_requested", data={})
    with engine.connect() as connection:
        return get_job(connection, job_id=job_id)


def last_event_id(connection: Connection) -> int:
    return int(connection.execute(sa.select(sa.func.max(job_events.c.id))).scalar() or 0)


def finish_job(
    engine: Engine,
    *,
    job_id: int,
    state: str,
    error: str | None = None,
    results: list[dict[str, Any]] | None = None,
) -> None:
    values: dict[str, Any] = {"state": state, "finished_at": utcnow(), "error": error}
    if results is not None:
        values["results"] = results
    with engine.begin() as connection:
        connection.execute(jobs.update().where(jobs.c.id == job_id).values(**values))
        job = get_job(connection, job_id=job_id)
        event_id = _insert_event(
            connection, job_id=job_id, type=FINAL_EVENT[state], data=job_summary(job)
        )
    bus.publish(job_id, event_id)


def job_summary(job: dict[str, Any]) -> dict[str, Any]:
    """The public shape of a job, used by the API, the CLI and event payloads (secrets in
    its sources redacted: the stored params keep them, to retry)."""
    started, finished = job.get("started_at"), job.get("finished_at")
    summary = {
        "id": job["id"],
        "kind": job["kind"],
        "state": job["state"],
        "created_at": _iso(job.get("created_at")),
        "started_at": _iso(started),
        "finished_at": _iso(finished),
        "duration_s": (finished - started).total_seconds() if started and finished else None,
        "progress": {
            "rows_done": job["rows_done"],
            "rows_total": job["rows_total"],
            "bytes_done": job["bytes_done"],
            "bytes_total": job["bytes_total"],
            "current_source": job["current_source"],
        },
        "results": job["results"],
        "error": job["error"],
        "retry_of": job.get("retry_of"),
        "params": job["params"],
    }
    return redact(summary)


def event_message(event: dict[str, Any]) -> dict[str, Any]:
    """The public shape of an event: SSE data, WebSocket message and webhook body alike."""
    message = {
        "id": event["id"],
        "job_id": event["job_id"],
        "type": event["type"],
        "data": redact(event["data"]),
        "created_at": event["created_at"].isoformat(),
    }
    if event.get("stream"):
        message["stream"] = event["stream"]
    return message


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class JobContext:
    """What a running job function gets: its id, params, and ways to report."""

    engine: Engine
    job_id: int
    params: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)
    logger: logging.LoggerAdapter[logging.Logger] | None = None
    _counted_at: float = 0.0

    def progress(
        self,
        *,
        rows_done: int,
        bytes_done: int,
        bytes_total: int | None,
        current_source: str | None,
        **extra: Any,
    ) -> None:
        values = {
            "rows_done": rows_done,
            "bytes_done": bytes_done,
            "bytes_total": bytes_total,
            "current_source": current_source,
            "heartbeat_at": utcnow(),
        }
        with self.engine.begin() as connection:
            connection.execute(jobs.update().where(jobs.c.id == self.job_id).values(**values))
        data = {k: v for k, v in values.items() if k != "heartbeat_at"} | extra
        append_event(self.engine, job_id=self.job_id, type="progress", data=data)

    def counted(
        self, *, stage: str, unit: str, done: int, total: int, rows_done: int, force: bool = False
    ) -> None:
        """Progress of a job that counts `unit`s (files, hours, vehicle-days), not bytes;
        at most one event a second unless `force`d (the last one)."""
        now = time.monotonic()
        if not force and now - self._counted_at < 1.0:
            return
        self._counted_at = now
        self.progress(rows_done=rows_done, bytes_done=0, bytes_total=None, current_source=None,
                      stage=stage, unit=unit, done=done, total=total)  # fmt: skip

    def log(self, message: str, *args: Any, exc_info: bool = False) -> None:
        """A line in the job's persistent log (`<home>/logs/jobs/job-<id>.jsonl`); with
        `exc_info`, the exception being handled and its traceback."""
        if self.logger is not None:
            self.logger.info(message, *args, exc_info=exc_info)

    def event(self, type: str, **data: Any) -> None:
        append_event(self.engine, job_id=self.job_id, type=type, data=data)

    def set_results(self, results: list[dict[str, Any]]) -> None:
        self.results = results
        with self.engine.begin() as connection:
            connection.execute(
                jobs.update().where(jobs.c.id == self.job_id).values(results=results)
            )

    def check_cancelled(self) -> None:
        with self.engine.connect() as connection:
            requested = connection.execute(
                sa.select(jobs.c.cancel_requested).where(jobs.c.id == self.job_id)
            ).scalar_one()
        if requested:
            raise JobCancelled()


JobFunction = Callable[[JobContext], None]
_registry: dict[str, JobFunction] = {}
_recoveries: dict[str, Callable[[Engine, int], None]] = {}


def recoveries() -> dict[str, Callable[[Engine, int], None]]:
    """Each job kind's recovery (see `recovery.recover_interrupted`)."""
    return _recoveries


def register_job_kind(
    kind: str, function: JobFunction, *, recover: Callable[[Engine, int], None] | None = None
) -> None:
    """`recover(engine, job_id)` tidies what a job of this kind left when its process died
    (files written ahead of a commit), run by `recovery.recover_interrupted` at the next start."""
    _registry[kind] = function
    if recover is not None:
        _recoveries[kind] = recover


def run_job(engine: Engine, *, job_id: int, logs_dir: Any = None, nice: int = 0) -> dict[str, Any]:
    """Run a queued job in this thread; returns its final summary. Never raises for job errors."""
    from fleetlake.platform.logs import job_log_handler

    lower_thread_priority(nice)

    with engine.begin() as connection:
        job = get_job(connection, job_id=job_id)
        if job["state"] != "queued":
            raise Conflict(f"job {job_id} is {job['state']}, not queued")
        connection.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(
                state="running",
                started_at=utcnow(),
                heartbeat_at=utcnow(),
                worker_host=HOST,
                worker_pid=os.getpid(),
            )
        )
    append_event(engine, job_id=job_id, type="started", data={"kind": job["kind"]})
    handler = job_log_handler(logs_dir=logs_dir, job_id=job_id) if logs_dir else None
    job_logger = logging.getLogger(f"fleetlake.jobs.{job['kind']}")
    job_logger.setLevel(logging.INFO)  # the per-job log keeps its INFO lines whatever the root says
    if handler:
        logging.getLogger("fleetlake").addHandler(handler)
    context = JobContext(
        engine=engine,
        job_id=job_id,
        params=job["params"],
        logger=logging.LoggerAdapter(job_logger, {"job_id": job_id}),
    )
    try:
        function = _registry.get(job["kind"])
        if function is None:
            raise NotFound(f"no handler for job kind {job['kind']!r}")
        function(context)
    except JobCancelled:
        finish_job(engine, job_id=job_id, state="cancelled", results=context.results)
    except Exception as exc:
        log.exception("job %s failed", job_id, extra={"job_id": job_id})
        reason = failure_reason(exc)
        finish_job(engine, job_id=job_id, state="failed", error=reason, results=context.results)
    else:
        finish_job(engine, job_id=job_id, state="succeeded", results=context.results)
    finally:
        if handler:
            logging.getLogger("fleetlake").removeHandler(handler)
            handler.close()
    with engine.connect() as connection:
        return job_summary(get_job(connection, job_id=job_id))


class JobRunner:
    """Runs queued jobs on a small thread pool inside the serving process."""

    def __init__(
        self, engine: Engine, *, workers: int, logs_dir: Any = None, nice: int = 0
    ) -> None:
        self.engine = engine
        self.logs_dir = logs_dir
        self.nice = nice
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")

    def submit(self, job_id: int) -> Future[dict[str, Any]]:
        # Claim the queued job so a crash of this process is recognised at the next start.
        with self.engine.begin() as connection:
            connection.execute(
                jobs.update()
                .where(jobs.c.id == job_id)
                .values(worker_host=HOST, worker_pid=os.getpid(), heartbeat_at=utcnow())
            )
        return self._pool.submit(
            run_job, self.engine, job_id=job_id, logs_dir=self.logs_dir, nice=self.nice
        )

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
