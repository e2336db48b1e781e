"""Readings as received, checked one by one: which sensor, when, how much.

A record names its sensor by id (`sensor` or `sensor_id`, an integer) or by the sensor's
`source_id`; `ts` is ISO 8601 with a zone (naive times are refused: a sensor's clock zone is
not ours to guess) or Unix seconds; `ppmv` a finite number ≥ 0. Each refused record keeps
its line and a reason naming the value and the fix.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_PPMV = 1e6  # the whole volume: above it a value is a unit mix-up, not methane


@dataclass(frozen=True)
class Received:
    line: int
    sensor: Any
    ts: Any
    ppmv: Any

    @property
    def raw(self) -> str:
        return json.dumps({"sensor": self.sensor, "ts": self.ts, "ppmv": self.ppmv}, default=str)


@dataclass(frozen=True)
class Reading:
    line: int
    sensor_id: int
    ts: datetime
    ppmv: float


@dataclass(frozen=True)
class Refused:
    line: int
    raw: str
    reason: str


def checked(record: Received, *, sensors: dict[str, int]) -> Reading | Refused:
    """`sensors`: every id (as text) and source_id → the sensor's id."""
    sensor = sensor_of(record.sensor, sensors)
    if isinstance(sensor, str):
        return Refused(record.line, record.raw, sensor)
    ts = time_of(record.ts)
    if isinstance(ts, str):
        return Refused(record.line, record.raw, ts)
    ppmv = ppmv_of(record.ppmv)
    if isinstance(ppmv, str):
        return Refused(record.line, record.raw, ppmv)
    return Reading(record.line, sensor, ts, ppmv)


def sensor_of(value: Any, sensors: dict[str, int]) -> int | str:
    key = str(value).strip() if value is not None else ""
    if not key:
        return "sensor is empty: give the sensor's id or source_id"
    found = sensors.get(key)
    if found is None:
        return f"unknown sensor {key[:60]!r}: create it first (POST /api/v1/monitoring/sensors)"
    return found


def time_of(value: Any) -> datetime | str:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            return f"ts {value!r} is not a time: give ISO 8601 with a zone or Unix seconds"
        moment = datetime.fromtimestamp(float(value), UTC)
    else:
        text = str(value).strip() if value is not None else ""
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return f"ts {text[:40]!r} is not ISO 8601: give e.g. 2026-12-01T06:00:00Z"
    if moment.tzinfo is None:
        return f"ts {str(value)[:40]!r} has no zone: give its offset or Z (UTC)"
    return moment.astimezone(UTC)


def ppmv_of(value: Any) -> float | str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"ppmv {str(value)[:40]!r} is not a number"
    if isinstance(value, bool) or not math.isfinite(number):
        return f"ppmv {value!r} is not a finite number"
    if number < 0:
        return f"ppmv {number:g} is negative: a concentration is 0 or more"
    if number > MAX_PPMV:
        return f"ppmv {number:g} exceeds 1e6 (all of the volume): check the unit"
    return number


def from_mapping(line: int, row: dict[str, Any]) -> Received:
    sensor = row.get("sensor", row.get("sensor_id"))
    return Received(line, sensor, row.get("ts"), row.get("ppmv"))


def read_file(path: Path) -> Iterator[Received | Refused]:
    """CSV (`sensor,ts,ppmv`), NDJSON (one object a line) or Parquet, by the file's suffix."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        yield from _parquet(path)
    elif name.endswith((".ndjson", ".jsonl")):
        yield from _ndjson(path.read_bytes())
    else:
        yield from csv_records(path.read_bytes())


def csv_records(data: bytes) -> Iterator[Received | Refused]:
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    missing = {"sensor", "ts", "ppmv"} - set(reader.fieldnames or [])
    if missing:
        from fleetlake.errors import SourceRejected

        raise SourceRejected(f"the CSV header lacks {', '.join(sorted(missing))}: it must "
                             "start with sensor,ts,ppmv")  # fmt: skip
    for k, row in enumerate(reader, start=2):
        yield from_mapping(k, row)


def _ndjson(data: bytes) -> Iterator[Received | Refused]:
    for k, text in enumerate(data.splitlines(), start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except ValueError as exc:
            yield Refused(k, text[:2000].decode("utf-8", "replace"), f"not JSON: {exc}")
            continue
        if not isinstance(row, dict):
            yield Refused(k, text[:2000].decode("utf-8", "replace"), "not a JSON object")
            continue
        yield from_mapping(k, row)


def _parquet(path: Path) -> Iterator[Received]:
    import pyarrow.parquet as pq

    for k, row in enumerate(pq.read_table(path).to_pylist(), start=1):
        yield from_mapping(k, row)
