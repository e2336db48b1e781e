"""The telemetry domain's settings: a section of `Settings` (`settings.telemetry`), read from
the same environment variables as ever — `FLEETLAKE_TELEMETRY_<NAME>` for the landing and
buffering ones, and the worker's and pipeline's own names (`FLEETLAKE_LOOKBACK_S`, …)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def named(env: str, default: Any, **rules: Any) -> Any:
    """A field read from `FLEETLAKE_<ENV>` (the name it always had), or given by its name."""
    field = env.lower()
    return Field(default, validation_alias=AliasChoices(f"FLEETLAKE_{env}", field), **rules)


class TelemetrySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLEETLAKE_TELEMETRY_", env_file=".env", extra="ignore", populate_by_name=True
    )

    flush_messages: int = Field(
        1000, ge=1, description="Messages a vehicle's bronze buffer holds before it is flushed."
    )
    flush_seconds: float = Field(
        30.0, gt=0, description="Longest a message waits in a buffer before its flush."
    )
    bulk_lines: int = Field(
        50_000, ge=1, description="Canonical NDJSON lines of a file read and checked at once."
    )
    max_push_bytes: int = Field(
        64 * 1024**2, ge=1, description="Largest body of one POST /api/v1/telemetry (413 past)."
    )
    earliest_ts: datetime = Field(
        datetime(2000, 1, 1, tzinfo=UTC),
        description="Messages with an earlier ts are quarantined when they land.",
    )
    max_ahead_s: float = Field(
        86_400.0, ge=0, description="Messages whose ts runs further ahead of receipt: quarantined."
    )
    max_held: int = Field(
        50_000, ge=1, description="Messages held unflushed in all buffers before all flush."
    )

    sources_file: Path | None = named(
        "SOURCES_FILE",
        None,
        description="The sources the worker runs; default <home>/sources.toml.",
    )
    pipeline_every_s: float = named(
        "PIPELINE_EVERY_S", 300.0, gt=0, description="The worker runs the pipeline this often."
    )
    speed_outliers: bool = named(
        "SPEED_OUTLIERS", True, description="Silver drops impossible speeds and GPS jumps."
    )
    max_speed_kmh: float = named("MAX_SPEED_KMH", 250.0, gt=0, description="Fastest believable.")
    future_tolerance_s: float = named(
        "FUTURE_TOLERANCE_S", 300.0, ge=0, description="How far a ts may run ahead (clock drift)."
    )
    query_engine: Literal["duckdb", "spark"] = named(
        "QUERY_ENGINE", "duckdb", description="What runs the silver and gold SQL."
    )
    spark_master: str = named("SPARK_MASTER", "local[2]", description="Spark's master URL.")
    lookback_s: float = named(
        "LOOKBACK_S", 600.0, ge=0, description="Stages reread files modified this long before."
    )

    @field_validator("earliest_ts")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)
