"""One poll of one configured HTTP source, as a job."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from fleetlake.platform.jobs import JobContext, create_job, register_job_kind
from fleetlake.platform.lake import Lake
from fleetlake.settings import Settings, get_settings
from fleetlake.telemetry.bronze import BronzeBuffers
from fleetlake.telemetry.polling import Poll
from fleetlake.telemetry.sources_config import load_sources

JOB_KIND = "telemetry.poll"


def queue_poll(engine: Engine, *, source: str, settings: Settings) -> int:
    load_sources(settings.resolved_sources_file).http_source(source)  # known, before queuing
    return create_job(engine, kind=JOB_KIND, params={"source": source})


def poll_job(context: JobContext) -> None:
    settings = get_settings()
    polled = load_sources(settings.resolved_sources_file).http_source(context.params["source"])
    lake = Lake(settings.resolved_lake_uri)
    buffers = BronzeBuffers(lake, flush_messages=settings.telemetry.flush_messages)
    result = Poll(polled.http, lake, buffers, allow_private=settings.allow_private_urls).run()
    result |= {"status": result["status"], "source": polled.http.url}
    context.set_results([result])
    context.event("source_finished", **result)
    context.log("poll %s: %s", polled.http.name, result)


register_job_kind(JOB_KIND, poll_job)
