"""Monitoring's tables of the sources file the worker runs (`platform.sources_file`):

[[monitoring.mqtt]]
name = "gas"
url = "mqtt://broker:1883"
topics = ["gas/+"]          # the last level names the sensor (id or source_id)

[[monitoring.omnia]]
name = "omnia"
url = "https://api.gateway.equinor.com/plant/timeseries/v1.7"
token_url = "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token"
client_id = "…"
client_secret_env = "OMNIA_SECRET"
scope = "<resource id>/.default"
calls_per_day = 20000
every_s = 60
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetlake.errors import InvalidParameter
from fleetlake.monitoring.omnia import OmniaSource
from fleetlake.platform.http_poll import ApiAccess
from fleetlake.platform.sources_file import (
    read_sources_file,
    refuse_unknown,
    require_keys,
    seconds,
    with_secrets,
)

ACCESS_FIELDS = {f.name for f in dataclasses.fields(ApiAccess)} - {"name"}
OMNIA_FIELDS = {f.name for f in dataclasses.fields(OmniaSource)} - {"access"} | ACCESS_FIELDS


@dataclass(frozen=True)
class MqttReadings:
    name: str
    url: str
    topics: tuple[str, ...]
    client_id: str = ""


@dataclass
class MonitoringSources:
    mqtt: list[MqttReadings] = field(default_factory=list)
    omnia: list[OmniaSource] = field(default_factory=list)

    def omnia_source(self, name: str) -> OmniaSource:
        for source in self.omnia:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.omnia) or "none"
        raise InvalidParameter(
            "source",
            f"no [[monitoring.omnia]] source {name!r} in the sources file (known: {known})",
        )


def load_monitoring_sources(path: Path, *, missing_ok: bool = False) -> MonitoringSources:
    if missing_ok and not path.exists():
        return MonitoringSources()
    section = read_sources_file(path).get("monitoring", {})
    found = MonitoringSources()
    for index, entry in enumerate(section.get("mqtt", [])):
        found.mqtt.append(_mqtt(entry, f"monitoring.mqtt[{index}]"))
    for index, entry in enumerate(section.get("omnia", [])):
        found.omnia.append(_omnia(entry, f"monitoring.omnia[{index}]"))
    names = [s.name for s in found.mqtt] + [s.name for s in found.omnia]
    if len(set(names)) != len(names):
        raise InvalidParameter("sources_file", f"monitoring source names must be unique: {names}")
    return found


def _mqtt(entry: dict[str, Any], where: str) -> MqttReadings:
    values = with_secrets(entry, where)
    refuse_unknown(values, {f.name for f in dataclasses.fields(MqttReadings)}, where)
    require_keys(values, ("name", "url", "topics"), where)
    topics = values["topics"]
    if isinstance(topics, str) or not topics:
        raise InvalidParameter(f"{where}.topics", f'{where}.topics: a list, e.g. ["gas/+"]')
    return MqttReadings(**{**values, "topics": tuple(topics)})


def _omnia(entry: dict[str, Any], where: str) -> OmniaSource:
    values = with_secrets(entry, where)
    refuse_unknown(values, OMNIA_FIELDS, where)
    require_keys(values, ("name", "url"), where)
    access = {k: values.pop(k) for k in list(values) if k in ACCESS_FIELDS}
    if "every_s" in values:
        values["every_s"] = seconds(values["every_s"], f"{where}.every_s")
    if "good_statuses" in values:
        values["good_statuses"] = tuple(int(v) for v in values["good_statuses"])
    return OmniaSource(**values, access=ApiAccess(name=values["name"], **access))
