"""Provider adapters by name: real payloads → canonical telemetry records.

adapter_for("tesla_fleet_api").map(payload, received_at=now)
adapter_for("mobilisight", mapping=Path("mobilisight.toml"))   # declarative
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fleetlake.errors import InvalidParameter
from fleetlake.telemetry.providers.base import Adapter
from fleetlake.telemetry.providers.bmw_cardata import BmwCarData
from fleetlake.telemetry.providers.high_mobility import HighMobility
from fleetlake.telemetry.providers.mapping import CANONICAL, load_mapping
from fleetlake.telemetry.providers.tesla_fleet_api import TeslaFleetApi
from fleetlake.telemetry.providers.tesla_telemetry import TeslaFleetTelemetry

ADAPTERS: dict[str, Callable[[], Adapter]] = {
    "canonical": lambda: CANONICAL,
    "tesla_fleet_api": TeslaFleetApi,
    "tesla_fleet_telemetry": TeslaFleetTelemetry,
    "bmw_cardata": BmwCarData,
    "high_mobility": HighMobility,
}


def adapter_for(name: str = "canonical", *, mapping: Path | None = None) -> Adapter:
    """A new adapter (stateful ones keep per-vehicle state: one per stream)."""
    if mapping is not None:
        return load_mapping(mapping)
    if name not in ADAPTERS:
        choices = ", ".join(ADAPTERS)
        raise InvalidParameter(
            "provider", f"unknown provider {name!r}: use one of {choices}, or a mapping file"
        )
    return ADAPTERS[name]()
