"""The charging lot's settings: a section of `Settings` (`settings.charging`), read from
`FLEETLAKE_CHARGING_<NAME>`. Each model parameter can be overridden per car by the CSV."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ChargingSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLEETLAKE_CHARGING_", env_file=".env", extra="ignore"
    )

    power_kw: float = Field(
        11.0,
        gt=0,
        le=1000,
        description="Charger power (kW) of every bay; a car's max_power_kw caps it.",
    )
    efficiency: float = Field(
        0.9, gt=0, le=1, description="Share of the grid's energy that reaches the battery."
    )
    taper_start_pct: float = Field(
        80.0, ge=0, le=100, description="State of charge (%) above which power falls linearly."
    )
    taper_end_power_pct: float = Field(
        20.0, gt=0, le=100, description="Power at 100 % state of charge, in % of full power."
    )
    site_limit_kw: float | None = Field(
        None, gt=0, description="The lot's grid limit (kW): when set, one plan shares it."
    )
    min_power_kw: float = Field(
        1.4, ge=0, description="Least power the planner gives a car; below it the car pauses."
    )

    @property
    def taper_end_fraction(self) -> float:
        return self.taper_end_power_pct / 100.0

    @model_validator(mode="after")
    def _min_below_charger(self) -> ChargingSettings:
        if self.min_power_kw > self.power_kw:
            raise ValueError(
                f"FLEETLAKE_CHARGING_MIN_POWER_KW ({self.min_power_kw}) exceeds the charger's "
                f"power FLEETLAKE_CHARGING_POWER_KW ({self.power_kw}): lower it"
            )
        return self
