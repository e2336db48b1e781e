"""The telemetry pipeline as a job: bronze → silver (→ gold), incremental or full refresh."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from fleetlake.errors import InvalidParameter
from fleetlake.platform.failures import working_on
from fleetlake.platform.jobs import JobContext, create_job, register_job_kind
from fleetlake.platform.lake import Lake
from fleetlake.platform.query_engines import ENGINES, QueryEngine, open_query_engine
from fleetlake.settings import Settings, get_settings
from fleetlake.telemetry.compaction import TELEMETRY_LOCK
from fleetlake.telemetry.gold import GoldResult, run_gold
from fleetlake.telemetry.silver import SilverRules, run_silver
from fleetlake.telemetry.silver_hours import SilverResult

JOB_KIND = "telemetry.pipeline"
STAGES = ("silver", "gold")


def silver_rules(settings: Settings) -> SilverRules:
    return SilverRules(
        max_speed_kmh=settings.telemetry.max_speed_kmh,
        speed_outliers=settings.telemetry.speed_outliers,
        future_tolerance_s=settings.telemetry.future_tolerance_s,
        lookback_s=settings.telemetry.lookback_s,
    )


def queue_pipeline(
    engine: Engine, *, stages: list[str] | None, full_refresh: bool, query_engine: str | None = None
) -> int:
    """Queue a run of `stages` (default: all) on `query_engine` (default: the setting)."""
    chosen = stages or list(STAGES)
    unknown = [s for s in chosen if s not in STAGES]
    if unknown:
        raise InvalidParameter("stage", f"unknown stage {unknown[0]!r}: use {', '.join(STAGES)}")
    if query_engine is not None and query_engine not in ENGINES:
        raise InvalidParameter(
            "engine", f"unknown engine {query_engine!r}: use {' or '.join(ENGINES)}"
        )
    params = {"stages": chosen, "full_refresh": full_refresh, "engine": query_engine}
    return create_job(engine, kind=JOB_KIND, params=params)


def pipeline_job(context: JobContext) -> None:
    settings = get_settings()
    lake = Lake(settings.resolved_lake_uri)
    name = context.params.get("engine") or settings.telemetry.query_engine
    context.event("engine_started", engine=name)
    spark_log = settings.logs_dir / "jobs" / f"job-{context.job_id}-spark.log"
    query_engine = open_query_engine(
        name, lake=lake, spark_master=settings.telemetry.spark_master, spark_log=spark_log
    )
    try:
        with lake.exclusive(TELEMETRY_LOCK):  # one run at a time, never beside a compaction
            run_stages(context, lake=lake, settings=settings, query_engine=query_engine)
    finally:
        query_engine.close()


def run_stages(
    context: JobContext, *, lake: Lake, settings: Settings, query_engine: QueryEngine
) -> None:
    full_refresh = bool(context.params.get("full_refresh"))
    results: list[dict[str, Any]] = []
    if "silver" in context.params["stages"]:
        context.event("stage_started", stage="silver", full_refresh=full_refresh)

        def silver_passed(result: SilverResult, done: int, total: int, force: bool = False) -> None:
            context.counted(stage="silver", unit="vehicle-hours", done=done, total=total,
                            rows_done=result.rows_in, force=force)  # fmt: skip

        with working_on(stage="silver"):
            silver = run_silver(lake, rules=silver_rules(settings), full_refresh=full_refresh,
                                engine=query_engine, on_progress=silver_passed)  # fmt: skip
        silver_passed(silver, silver.vehicle_hours, silver.vehicle_hours, force=True)
        summary = silver.to_dict() | {
            "name": "silver",
            "engine": query_engine.name,
            "status": "done",
            "rows_loaded": silver.rows_out,
            "rows_quarantined": sum(silver.dropped.values()),
            "duration_s": round(silver.seconds, 3),
        }
        results.append(summary)
        context.set_results(results)
        context.event("stage_finished", **summary)
        context.log("silver: %s", silver.to_dict())
    if "gold" in context.params["stages"]:
        context.event("stage_started", stage="gold", full_refresh=full_refresh)

        def gold_day(result: GoldResult, total: int, force: bool = False) -> None:
            context.counted(stage="gold", unit="days", done=len(result.changed_days),
                            total=total, rows_done=result.rows_in, force=force)  # fmt: skip

        with working_on(stage="gold"):
            gold = run_gold(
                lake,
                context.engine,
                reports_dir=settings.home_dir / "reports",
                lookback_s=settings.telemetry.lookback_s,
                full_refresh=full_refresh,
                engine=query_engine,
                on_progress=gold_day,
            )
        gold_day(gold, gold.days, force=True)
        summary = gold.to_dict() | {
            "name": "gold",
            "engine": query_engine.name,
            "status": "done",
            "rows_loaded": gold.rows_written,
            "rows_quarantined": 0,
            "duration_s": round(gold.seconds, 3),
        }
        results.append(summary)
        context.set_results(results)
        context.event("stage_finished", **summary)
        context.log("gold: %s", gold.to_dict())


register_job_kind(JOB_KIND, pipeline_job)
