"""The one `Settings` object: environment variables `FLEETLAKE_*` and an optional `.env` file.

The platform's settings are its fields; each domain's live with the domain as a section
(`settings.trips`, `settings.telemetry`), read from the same variable names as before."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fleetlake.charging.settings import ChargingSettings
from fleetlake.monitoring.settings import MonitoringSettings
from fleetlake.telemetry.settings import TelemetrySettings
from fleetlake.trips.settings import TripsSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEETLAKE_", env_file=".env", extra="ignore")

    home: Path = Field(Path("var"), description="Where everything fleetlake writes lives.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in home.")
    lake_uri: str | None = Field(
        None, description="Lake root (path or fsspec URI); default <home>/lake."
    )
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    read_requires_key: bool = Field(
        False, description="Close read endpoints behind the API key too."
    )
    allow_private_urls: bool = Field(False, description="Allow URL imports from private addresses.")
    import_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Extra server folders the API may ingest from."
    )

    max_upload_bytes: int = Field(2 * 1024**3, ge=1, description="Largest upload or download.")
    url_timeout_s: float = 60.0
    job_workers: int = Field(2, ge=1)
    read_threads: int = Field(
        2, ge=1, le=64, description="Threads each server process answers reads on (see deps.Reads)."
    )
    job_nice: int = Field(
        10, ge=0, le=19, description="CPU niceness of jobs: ingestion yields to API requests."
    )
    trips: TripsSettings = Field(default_factory=TripsSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    charging: ChargingSettings = Field(default_factory=ChargingSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    redis_url: str | None = Field(
        None, description="Redis for fast look-ups (charging lot status); none: the database."
    )
    redis_prefix: str = Field(
        "fleetlake", pattern=r"^[A-Za-z0-9_.-]{1,40}$", description="Prefix of our Redis keys."
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
        return (self.trips.raw_dir or self.home_dir / "data" / "raw").expanduser().resolve()

    @property
    def resolved_sources_file(self) -> Path:
        folder = self.telemetry.sources_file or self.home_dir / "sources.toml"
        return folder.expanduser().resolve()

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
