"""One poll of one configured Omnia-shaped source, as a job."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from fleetlake.monitoring.omnia import OmniaPoll
from fleetlake.monitoring.sources_config import load_monitoring_sources
from fleetlake.platform.jobs import JobContext, create_job, register_job_kind
from fleetlake.platform.lake import Lake
from fleetlake.settings import Settings, get_settings

JOB_KIND = "monitoring.poll"


def queue_poll(engine: Engine, *, source: str, settings: Settings) -> int:
    load_monitoring_sources(settings.resolved_sources_file).omnia_source(source)  # known first
    return create_job(engine, kind=JOB_KIND, params={"source": source})


def poll_job(context: JobContext) -> None:
    settings = get_settings()
    polled = load_monitoring_sources(settings.resolved_sources_file).omnia_source(
        context.params["source"]
    )
    lake = Lake(settings.resolved_lake_uri)
    result = OmniaPoll(
        polled, context.engine, lake, allow_private=settings.allow_private_urls
    ).run()
    context.set_results([result | {"source": polled.url}])
    context.event("source_finished", **result)
    context.log("poll %s: %s", polled.name, result)


register_job_kind(JOB_KIND, poll_job)
