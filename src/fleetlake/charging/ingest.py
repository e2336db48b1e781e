"""The lot import job: one CSV (URL, upload or path) → parked cars, replanned in one commit.

The refused rows are kept first, then every valid row lands with the replan in one
transaction: a job interrupted midway leaves the lot as it was, and its retry imports every
valid row exactly once (a plate already parked is updated, not parked twice).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from fleetlake.charging.cache import LotCache
from fleetlake.charging.parse import ParkedCar, Refused, read_rows
from fleetlake.charging.service import FUTURE_SLACK, import_cars, now_utc
from fleetlake.charging.tables import charging_quarantine
from fleetlake.errors import SourceRejected
from fleetlake.platform.jobs import JobContext, create_job, register_job_kind
from fleetlake.platform.sources import materialise, source_name
from fleetlake.settings import Settings, get_settings

JOB_KIND = "charging.import"
MAX_REASONS = 100  # refused rows described in the result (all are kept in the quarantine)


def cache_for(settings: Settings) -> LotCache | None:
    return (
        LotCache(settings.redis_url, prefix=settings.redis_prefix) if settings.redis_url else None
    )


def queue_import(engine: Engine, *, source: str) -> int:
    return create_job(engine, kind=JOB_KIND, params={"source": source})


def import_job(context: JobContext) -> None:
    settings = get_settings()
    source = context.params["source"]
    path = materialise(source, settings=settings, job_id=context.job_id)
    context.progress(rows_done=0, bytes_done=0, bytes_total=path.stat().st_size,
                     current_source=source_name(source))  # fmt: skip
    result = import_file(context.engine, path=path, source=source, settings=settings,
                         job_id=context.job_id)  # fmt: skip
    context.set_results([result])
    context.event("source_finished", **{k: v for k, v in result.items() if k != "rejected"})


def import_file(
    engine: Engine, *, path: Any, source: str, settings: Settings, job_id: int | None
) -> dict[str, Any]:
    """Read, check and park every row; the result counts and names what was refused."""
    now = now_utc()
    cars: list[ParkedCar] = []
    refused: list[Refused] = []
    for row in read_rows(path):
        if isinstance(row, ParkedCar):
            problem = timing_problem(row, now=now)
            if problem:
                refused.append(Refused(line=row.line, raw=row.raw, reason=problem))
                continue
            cars.append(row)
        else:
            refused.append(row)
    if not cars and not refused:
        raise SourceRejected(f"{source_name(source)} has a header but no rows: nothing to import")
    keep_refused(engine, refused, source=source_name(source), job_id=job_id, now=now)
    counts = import_cars(engine, cars=cars, settings=settings.charging,
                         cache=cache_for(settings), now=now, job_id=job_id)  # fmt: skip
    return {
        "name": source_name(source),
        "status": f"{counts['created']} parked, {counts['updated']} updated",
        "rows_loaded": len(cars),
        "rows_quarantined": len(refused),
        **counts,
        "rejected": [{"line": r.line, "reason": r.reason} for r in refused[:MAX_REASONS]],
    }


def timing_problem(car: ParkedCar, *, now: Any) -> str | None:
    if car.departure is not None and car.departure <= now:
        return f"departure {car.departure.isoformat()} has passed: give a time to come"
    if car.plugged_at is not None and car.plugged_at > now + FUTURE_SLACK:
        return f"plugged_at {car.plugged_at.isoformat()} is in the future: give when it was plugged"
    return None


def keep_refused(
    engine: Engine, refused: list[Refused], *, source: str, job_id: int | None, now: Any
) -> None:
    if not refused:
        return
    rows = [{"job_id": job_id, "source": source, "line": r.line, "raw": r.raw,
             "reason": r.reason, "created_at": now} for r in refused]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(charging_quarantine.insert(), rows)


register_job_kind(JOB_KIND, import_job)
