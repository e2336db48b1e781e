"""Telemetry commands; the API, the CLI and the dashboard are thin over these."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine

from fleetlake.platform import sources as platform_sources
from fleetlake.platform.jobs import create_job
from fleetlake.settings import Settings
from fleetlake.telemetry import compaction
from fleetlake.telemetry.files import SUFFIXES
from fleetlake.telemetry.ingest import JOB_KIND as INGEST_KIND
from fleetlake.telemetry.providers import adapter_for


def queue_ingestion(
    engine: Engine,
    *,
    sources: list[str],
    settings: Settings,
    provider: str = "canonical",
    mapping: Path | None = None,
    force: bool = False,
    restrict_to: list[Path] | None = None,
) -> int:
    """Check the sources and the provider (or mapping) now, then queue the job."""
    resolved = platform_sources.resolve_sources(
        sources, settings=settings, suffixes=SUFFIXES, restrict_to=restrict_to
    )
    adapter_for(provider, mapping=mapping)  # an unknown name or a bad mapping fails here
    params = {
        "sources": resolved,
        "provider": provider,
        "mapping": str(mapping.resolve()) if mapping else None,
        "force": force,
    }
    return create_job(engine, kind=INGEST_KIND, params=params)


def queue_compaction(engine: Engine, *, day: date | None) -> int:
    params = {"date": day.isoformat() if day else None}
    return create_job(engine, kind=compaction.JOB_KIND, params=params)
