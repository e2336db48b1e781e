"""The one `Settings` object: environment variables `FLEETLAKE_*` and an optional `.env` file."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEETLAKE_", env_file=".env", extra="ignore")

    home: Path = Field(Path("var"), description="Where everything fleetlake writes lives.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in home.")
    lake_uri: str | None = Field(
        None, description="Lake root (path or fsspec URI); default <home>/lake."
    )
    redis_url: str | None = None
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    read_requires_key: bool = Field(
        False, description="Close read endpoints behind the API key too."
    )
    allow_private_urls: bool = Field(False, description="Allow URL imports from private addresses.")
    import_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Extra server folders the API may ingest from."
    )
    raw_dir: Path | None = Field(
        None, description="Folder scanned by `POST /vehicles`; default <home>/data/raw."
    )

    max_upload_bytes: int = Field(2 * 1024**3, ge=1, description="Largest upload or download.")
    url_timeout_s: float = 60.0
    chunk_bytes: int = Field(16 * 1024 * 1024, ge=1, description="CSV bytes per committed chunk.")
    job_workers: int = Field(2, ge=1)
    job_nice: int = Field(
        10, ge=0, le=19, description="CPU niceness of jobs: ingestion yields to API requests."
    )
    h3_resolution: int = Field(7, ge=0, le=15)
    time_bucket_minutes: int = Field(60, ge=1, le=1440)

    telemetry_flush_messages: int = Field(
        1000, ge=1, description="Messages a vehicle's bronze buffer holds before it is flushed."
    )
    telemetry_flush_seconds: float = Field(
        30.0, gt=0, description="Longest a message waits in a buffer before its flush."
    )
    telemetry_bulk_lines: int = Field(
        50_000, ge=1, description="Canonical NDJSON lines of a file read and checked at once."
    )
    telemetry_max_push_bytes: int = Field(
        64 * 1024**2, ge=1, description="Largest body of one POST /api/v1/telemetry (413 past)."
    )
    telemetry_earliest_ts: datetime = Field(
        datetime(2000, 1, 1, tzinfo=UTC),
        description="Messages with an earlier ts are quarantined when they land.",
    )
    telemetry_max_ahead_s: float = Field(
        86_400.0, ge=0, description="Messages whose ts runs further ahead of receipt: quarantined."
    )
    telemetry_max_held: int = Field(
        50_000, ge=1, description="Messages held unflushed in all buffers before all flush."
    )

    sources_file: Path | None = Field(
        None, description="The telemetry sources the worker runs; default <home>/sources.toml."
    )
    pipeline_every_s: float = Field(
        300.0, gt=0, description="The worker runs the telemetry pipeline this often."
    )
    speed_outliers: bool = Field(
        True, description="Silver drops speeds over max_speed_kmh and GPS jumps needing more."
    )
    max_speed_kmh: float = Field(250.0, gt=0, description="Fastest believable vehicle speed.")
    future_tolerance_s: float = Field(
        300.0, ge=0, description="How far a vehicle's ts may run ahead of receipt (clock drift)."
    )
    query_engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="What runs the silver and gold SQL: duckdb, or spark (extra)."
    )
    spark_master: str = Field(
        "local[2]", description="Spark's master URL for the spark engine (local[N], spark://…)."
    )
    lookback_s: float = Field(
        600.0, ge=0, description="Stages reread files modified this long before their mark."
    )

    webhook_max_attempts: int = Field(5, ge=1)
    webhook_backoff_s: float = Field(0.5, gt=0)
    webhook_timeout_s: float = Field(10.0, gt=0)

    log_level: str = "INFO"

    @field_validator("api_keys", "import_dirs", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("telemetry_earliest_ts")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'fleetlake.db'}"

    @property
    def resolved_lake_uri(self) -> str:
        return self.lake_uri or str(self.home_dir / "lake")

    @property
    def resolved_raw_dir(self) -> Path:
        return (self.raw_dir or self.home_dir / "data" / "raw").expanduser().resolve()

    @property
    def resolved_sources_file(self) -> Path:
        return (self.sources_file or self.home_dir / "sources.toml").expanduser().resolve()

    @property
    def import_folders(self) -> list[Path]:
        """Where the API may ingest server paths from: `<home>/data`, then FLEETLAKE_IMPORT_DIRS."""
        extra = (d.expanduser().resolve() for d in self.import_dirs)
        return [(self.home_dir / "data").expanduser().resolve(), *extra]

    @property
    def logs_dir(self) -> Path:
        return self.home_dir / "logs"


@lru_cache
def get_settings() -> Settings:
    return Settings()
