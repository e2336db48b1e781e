"""A declarative field mapping (path → canonical field, unit): Mobilisight, any JSON API,
and canonical records themselves.

    {"name": "mobilisight", "records": "payload.items", "vin": "vehicle.vin",
     "ts": "signals.time",
     "fields": {"speed_kmh": {"path": "signals.speed", "unit": "mph"},
                "soc_pct": {"path": "signals.soc", "unit": "fraction"},
                "charging_state": {"path": "charge", "values": {"CHARGING": "charging"}},
                "lat": "position.lat"}}

Paths are dotted; `records` (optional) names the list of messages in a payload; `ts` may be
ISO 8601 or an epoch in s/ms/µs; fields not mapped are kept in `extra`.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fleetlake.errors import InvalidParameter
from fleetlake.telemetry.providers.base import Fields, flatten, messages, rejected
from fleetlake.telemetry.schema import (
    CHARGING_STATES,
    GEARS,
    MEASURES,
    MappedBatch,
    TelemetryRecord,
)
from fleetlake.telemetry.units import CONVERSIONS, to_utc

WORDS = {"charging_state": CHARGING_STATES, "gear": GEARS}  # the fields that hold a word


@dataclass(frozen=True)
class FieldRule:
    path: str
    unit: str | None = None
    values: dict[str, str] = field(default_factory=dict)  # provider word → canonical word


@dataclass(frozen=True)
class FieldMapping:
    name: str
    vin: str
    ts: str
    fields: dict[str, FieldRule]
    records: str | None = None
    source: str | None = None  # a path whose value names the source; else `name`
    received_at: str | None = None  # a path of an original receipt time (replayed exports)

    def map(self, payload: Any, *, received_at: datetime, vin: str | None = None) -> MappedBatch:
        batch = MappedBatch()
        if self.records is not None:
            payload = flatten(payload).get(self.records) if isinstance(payload, dict) else None
            if not isinstance(payload, list):
                reason = f"no list of records at {self.records!r}"
                return MappedBatch(rejected=[rejected(0, reason, payload)])
        for position, message in messages(payload):
            if not isinstance(message, dict):
                batch.rejected.append(rejected(position, "not a JSON object", message))
                continue
            record = self.record(Fields(flatten(message)), received_at=received_at, vin=vin)
            if isinstance(record, str):
                batch.rejected.append(rejected(position, record, message))
            else:
                batch.records.append(record)
        return batch

    def record(
        self, taken: Fields, *, received_at: datetime, vin: str | None
    ) -> TelemetryRecord | str:
        """The record, or the reason there is none."""
        record_vin = taken.flat.get(self.vin) or vin
        ts = to_utc(taken.flat.get(self.ts))
        if not record_vin or ts is None:
            return f"no vin at {self.vin!r}" if not record_vin else f"no time at {self.ts!r}"
        taken.mark_used(self.vin, self.ts)
        values: dict[str, Any] = {}
        for name, rule in self.fields.items():
            if name == "gear" and not rule.values:
                values[name] = taken.gear(rule.path)
            elif name in WORDS:
                table = rule.values or {word: word for word in WORDS[name]}
                values[name] = taken.word(rule.path, {k.lower(): v for k, v in table.items()})
            else:
                values[name] = taken.number(rule.path, rule.unit)
        source = taken.flat.get(self.source) if self.source else None
        if source is not None:
            taken.mark_used(str(self.source))
        original = to_utc(taken.flat.get(self.received_at)) if self.received_at else None
        if original is not None:
            taken.mark_used(str(self.received_at))
        return TelemetryRecord.of(
            vin=str(record_vin),
            ts=ts,
            received_at=original or received_at,
            source=str(source or self.name),
            values=values,
            extra=taken.extra(),
        )


def mapping_from_dict(spec: dict[str, Any]) -> FieldMapping:
    """A mapping from its JSON/TOML form, every error naming the key at fault."""
    for key in ("name", "vin", "ts", "fields"):
        if key not in spec:
            raise InvalidParameter(key, f"the mapping has no {key!r}")
    if not isinstance(spec["fields"], dict):
        raise InvalidParameter("fields", "'fields' must be an object: canonical name → rule")
    return FieldMapping(
        name=str(spec["name"]),
        vin=str(spec["vin"]),
        ts=str(spec["ts"]),
        fields={name: _rule(name, rule) for name, rule in spec["fields"].items()},
        records=spec.get("records"),
        source=spec.get("source"),
        received_at=spec.get("received_at"),
    )


def _rule(name: str, rule: Any) -> FieldRule:
    where = f"fields.{name}"
    if name not in MEASURES:
        choices = ", ".join(MEASURES)
        raise InvalidParameter(where, f"{name!r} is not a canonical field; use one of {choices}")
    rule = {"path": rule} if isinstance(rule, str) else rule
    if not isinstance(rule, dict) or not isinstance(rule.get("path"), str):
        raise InvalidParameter(where, f"the rule of {name!r} needs a 'path'")
    unit = rule.get("unit")
    if unit is not None and unit not in CONVERSIONS:
        choices = ", ".join(sorted(CONVERSIONS))
        raise InvalidParameter(
            f"{where}.unit", f"unit {unit!r} of {name!r} is unknown; use one of {choices}"
        )
    allowed = WORDS.get(name)
    values = rule.get("values", {})
    if values and (allowed is None or not isinstance(values, dict)):
        raise InvalidParameter(
            f"{where}.values", f"'values' is for charging_state and gear, not {name!r}"
        )
    bad = [word for word in values.values() if allowed is not None and word not in allowed]
    if bad:
        choices = ", ".join(allowed or ())
        raise InvalidParameter(
            f"{where}.values", f"{bad[0]!r} is not a {name}; use one of {choices}"
        )
    return FieldRule(rule["path"], unit, {str(k): str(v) for k, v in values.items()})


def load_mapping(path: Path) -> FieldMapping:
    """A mapping file: `.json` or `.toml`."""
    try:
        text = path.read_text(encoding="utf-8")
        spec = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise InvalidParameter("mapping", f"cannot read the mapping {path}: {exc}") from exc
    if not isinstance(spec, dict):
        raise InvalidParameter("mapping", f"the mapping {path} is not an object")
    return mapping_from_dict(spec)


# Canonical records (HTTP push, files): the names are the fields; `source` may be given, and
# `received_at` (an export replayed keeps its receipt times; else the time it arrives here).
CANONICAL = FieldMapping(
    name="canonical",
    vin="vin",
    ts="ts",
    fields={name: FieldRule(name) for name in MEASURES},
    source="source",
    received_at="received_at",
)
