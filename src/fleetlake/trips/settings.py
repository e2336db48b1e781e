"""The trips domain's settings: a section of `Settings` (`settings.trips`), read from the
same environment variables as ever (`FLEETLAKE_CHUNK_BYTES`, …)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TripsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEETLAKE_", env_file=".env", extra="ignore")

    raw_dir: Path | None = Field(
        None, description="Folder scanned by `POST /vehicles`; default <home>/data/raw."
    )
    chunk_bytes: int = Field(16 * 1024 * 1024, ge=1, description="CSV bytes per committed chunk.")
    h3_resolution: int = Field(7, ge=0, le=15)
    time_bucket_minutes: int = Field(60, ge=1, le=1440)
