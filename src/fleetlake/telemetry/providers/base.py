"""What every provider adapter shares: the interface, the vocabulary maps, `extra`.

An adapter turns one parsed payload (a provider's JSON) into canonical records. It never
raises for bad data: a message it cannot use becomes a RejectedPayload with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol, TypeVar

from fleetlake.telemetry.schema import CHARGING_STATES, GEARS, MappedBatch, RejectedPayload
from fleetlake.telemetry.units import convert

T = TypeVar("T")


class Adapter(Protocol):
    @property
    def name(self) -> str: ...

    def map(self, payload: Any, *, received_at: datetime, vin: str | None = None) -> MappedBatch:
        """`vin` is for payloads that do not carry it (a REST URL's path does)."""
        ...


def messages(payload: Any) -> Iterator[tuple[int, Any]]:
    """A payload's messages with their positions: a JSON array is many, anything else one."""
    if isinstance(payload, list):
        yield from enumerate(payload)
    else:
        yield 0, payload


def rejected(position: int, reason: str, message: Any) -> RejectedPayload:
    raw = json.dumps(message, default=str)[:10_000]  # a reason and enough to find it again
    return RejectedPayload(position=position, reason=reason, raw=raw)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested objects → {"a.b.c": leaf}; lists stay whole (one value, JSON-encodable)."""
    if not isinstance(value, dict):
        return {prefix: value} if prefix else {}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict) and item:
            flat.update(flatten(item, path))
        else:
            flat[path] = item
    return flat


class Fields:
    """Canonical values taken from a flattened message; what none took is `extra`.
    A value that does not convert (a text where a number belongs) stays in `extra`."""

    def __init__(self, flat: dict[str, Any]) -> None:
        self.flat = flat
        self.used: set[str] = set()

    def _took(self, path: str, value: T) -> T:
        if value is not None or self.flat.get(path) is None:
            self.used.add(path)
        return value

    def number(self, path: str, unit: str | None = None) -> float | None:
        return self._took(path, convert(self.flat.get(path), unit))

    def numbers(self, spec: dict[str, tuple[str, str | None]]) -> dict[str, float | None]:
        """canonical name ← (path, unit), for many at once."""
        return {name: self.number(path, unit) for name, (path, unit) in spec.items()}

    def state(self, path: str, table: dict[str, str]) -> str | None:
        return self._took(path, charging_state(self.flat.get(path), table))

    def word(self, path: str, table: dict[str, str]) -> str | None:
        """A provider's word → ours by a case-blind table (the caller checked its words)."""
        raw = self.flat.get(path)
        return self._took(path, table.get(raw.strip().lower()) if isinstance(raw, str) else None)

    def gear(self, path: str) -> str | None:
        return self._took(path, canonical_gear(self.flat.get(path)))

    def mark_used(self, *paths: str) -> None:
        self.used.update(paths)

    def extra(self) -> dict[str, Any]:
        return {key: value for key, value in self.flat.items() if key not in self.used}


def canonical_gear(value: Any) -> str | None:
    """ "D", "d", "ShiftStateD" → "D"; anything else (null, "Invalid", "SNA") → None."""
    if not isinstance(value, str):
        return None
    letter = value.removeprefix("ShiftState").strip().upper()
    return letter if letter in GEARS else None


def charging_state(value: Any, table: dict[str, str]) -> str | None:
    """A provider's charging status → one of CHARGING_STATES, by a case-blind table."""
    if not isinstance(value, str):
        return None
    state = table.get(value.strip().lower())
    assert state is None or state in CHARGING_STATES, state  # the tables are ours
    return state
