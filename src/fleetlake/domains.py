"""The composition root: which domains this fleetlake has. Only the CLI and the app import it."""

from __future__ import annotations


def register_job_kinds() -> None:
    """Import each domain's job functions so that the job registry knows their kinds."""
    import fleetlake.charging.ingest
    import fleetlake.monitoring.ingest
    import fleetlake.monitoring.poll_job
    import fleetlake.telemetry.compaction
    import fleetlake.telemetry.ingest
    import fleetlake.telemetry.pipeline
    import fleetlake.telemetry.poll_job
    import fleetlake.trips.ingest  # noqa: F401
