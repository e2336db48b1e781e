"""Sensor monitoring's settings: a section of `Settings` (`settings.monitoring`), read from
`FLEETLAKE_MONITORING_<NAME>`."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MonitoringSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLEETLAKE_MONITORING_", env_file=".env", extra="ignore"
    )

    window_minutes: float = Field(
        30.0, gt=0, le=1440, description="Subsequence length in time; readings per window "
        "follow from each sensor's sampling period (8 to 256)."
    )  # fmt: skip
    baseline_days: float = Field(
        7.0, gt=0, description="Default baseline: a sensor's first days of readings."
    )
    warning_spreads: float = Field(
        4.0, gt=0, description="Warning when a window lies this many baseline spreads out."
    )
    critical_spreads: float = Field(8.0, gt=0, description="Critical at this many spreads.")
    clear_ratio: float = Field(
        0.7, gt=0, le=1, description="A level clears below this share of its threshold..."
    )
    clear_after: int = Field(5, ge=1, description="...for this many readings in a row.")
    agree_sensors: int = Field(
        2, ge=1, description="Sensors of a template critical at once for a critical event "
        "(all of them when it has fewer)."
    )  # fmt: skip
    despike_readings: int = Field(
        5, ge=1, le=31, description="Readings in the causal running median applied before "
        "scoring: a spike of fewer than half of them is dropped (1: none)."
    )  # fmt: skip
    min_spread_ppmv: float = Field(
        0.01, gt=0, description="Smallest spread believed of a baseline (sensor resolution)."
    )
    exchange_velocity_m_h: float = Field(
        3.6, gt=0, description="Water through a template's open wall (leak model's λ)."
    )
    near_gain: float = Field(
        1.0, ge=0, description="How much more than the template's average a sensor at a "
        "leak reads (1 + gain), falling off with distance."
    )  # fmt: skip
    near_length_fraction: float = Field(
        0.25, gt=0, description="The fall-off length, as a share of the template's largest side."
    )

    detect_every_s: float = Field(
        10.0, gt=0, description="Seconds between the worker's detection rounds."
    )
    land_every_s: float = Field(
        10.0, gt=0, description="Seconds MQTT readings are held before landing as one batch."
    )
    compact_every_s: float = Field(
        600.0, gt=0, description="Seconds between compactions of silver's small files."
    )

    @model_validator(mode="after")
    def _critical_above_warning(self) -> MonitoringSettings:
        if self.critical_spreads <= self.warning_spreads:
            raise ValueError(
                f"FLEETLAKE_MONITORING_CRITICAL_SPREADS ({self.critical_spreads}) must exceed "
                f"FLEETLAKE_MONITORING_WARNING_SPREADS ({self.warning_spreads}): raise it"
            )
        return self

    def window_for(self, sample_period_s: float) -> int:
        """Readings per window for a sensor read every `sample_period_s`."""
        return int(min(max(round(self.window_minutes * 60 / sample_period_s), 8), 256))
