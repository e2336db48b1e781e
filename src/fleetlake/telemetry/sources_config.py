"""The telemetry sources the worker runs, from one TOML file (`FLEETLAKE_SOURCES_FILE`,
default `<home>/sources.toml`; `platform.sources_file`). Secrets stay in the environment: a
source names the variable (`client_secret_env`, `bearer_token_env`, `password_env`).

    [[http]]
    name = "fleet-api"
    url = "https://api.example.com/v1/telemetry"
    token_url = "https://api.example.com/oauth/token"
    client_id = "fleetlake"
    client_secret_env = "FLEET_API_SECRET"
    calls_per_day = 5000
    every_s = 60

    [[mqtt]]
    name = "tesla"
    url = "mqtt://broker:1883"
    topics = ["tesla/+/v/+"]
    provider = "tesla_fleet_telemetry"
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetlake.errors import InvalidParameter
from fleetlake.platform.sources_file import (
    read_sources_file,
    refuse_unknown,
    require_keys,
    seconds,
    with_secrets,
)
from fleetlake.telemetry.polling import HttpSource
from fleetlake.telemetry.providers import ADAPTERS


@dataclass(frozen=True)
class PolledSource:
    http: HttpSource
    every_s: float = 60.0


@dataclass(frozen=True)
class MqttSource:
    name: str
    url: str
    topics: tuple[str, ...]
    provider: str = "canonical"
    client_id: str = ""


@dataclass
class SourcesConfig:
    http: list[PolledSource] = field(default_factory=list)
    mqtt: list[MqttSource] = field(default_factory=list)

    def http_source(self, name: str) -> PolledSource:
        for source in self.http:
            if source.http.name == name:
                return source
        known = ", ".join(s.http.name for s in self.http) or "none"
        raise InvalidParameter(
            "source", f"no HTTP source {name!r} in the sources file (known: {known})"
        )


HTTP_FIELDS = {f.name for f in dataclasses.fields(HttpSource)}
MQTT_FIELDS = {f.name for f in dataclasses.fields(MqttSource)} | {"password"}


def load_sources(path: Path) -> SourcesConfig:
    spec = read_sources_file(path)
    config = SourcesConfig()
    for index, entry in enumerate(spec.get("http", [])):
        config.http.append(_http(entry, f"http[{index}]"))
    for index, entry in enumerate(spec.get("mqtt", [])):
        config.mqtt.append(_mqtt(entry, f"mqtt[{index}]"))
    names = [s.http.name for s in config.http] + [s.name for s in config.mqtt]
    if len(set(names)) != len(names):
        raise InvalidParameter("sources_file", f"source names must be unique: {names}")
    return config


def _http(entry: dict[str, Any], where: str) -> PolledSource:
    values = with_secrets(entry, where)
    every_s = seconds(values.pop("every_s", 60.0), f"{where}.every_s")
    refuse_unknown(values, HTTP_FIELDS, where)
    require_keys(values, ("name", "url"), where)
    _check_provider(values.get("provider", "canonical"), where)
    if "vins" in values:
        values["vins"] = tuple(values["vins"])
    return PolledSource(HttpSource(**values), every_s=every_s)


def _mqtt(entry: dict[str, Any], where: str) -> MqttSource:
    values = with_secrets(entry, where)
    refuse_unknown(values, MQTT_FIELDS, where)
    require_keys(values, ("name", "url"), where)
    password = values.pop("password", None)
    if password is not None and "@" not in str(values.get("url", "")):
        raise InvalidParameter(f"{where}.password", "put the user in the URL: mqtt://user@host")
    if password is not None:
        scheme, rest = str(values["url"]).split("://", 1)
        user, host = rest.split("@", 1)
        values["url"] = f"{scheme}://{user}:{password}@{host}"
    topics = values.get("topics", ())
    if isinstance(topics, str) or not topics:
        raise InvalidParameter(f"{where}.topics", f'{where}.topics: a list, e.g. ["fleet/#"]')
    source = MqttSource(**{**values, "topics": tuple(topics)})
    _check_provider(source.provider, where)
    return source


def _check_provider(name: str, where: str) -> None:
    if name not in ADAPTERS:
        raise InvalidParameter(
            f"{where}.provider", f"unknown provider {name!r}: use one of {', '.join(ADAPTERS)}"
        )
