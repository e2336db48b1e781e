"""Readings into the lake: bronze as received, silver clean, the rest quarantined.

    <lake>/monitoring/bronze/readings/date=D/<batch>.parquet         every record as received
    <lake>/monitoring/silver/readings/sensor=N/date=D/<batch>.parquet  a sensor's day, by ts
    <lake>/monitoring/quarantine/date=D/<batch>.parquet              refused: line and reason

Silver is partitioned by sensor, then day, so a sensor's last hours or its baseline are a
few files. A batch is named by its content's hash: a batch landed again (a retried job, a
re-sent POST) rewrites the same files, and its readings at or before the sensor's newest
(`last_reading_at`) are refused as repeats or out of order, never stored twice. A process
that dies between writing silver and marking the sensors may see the same readings again in
another batch (a broker's redelivery): readers take one reading per sensor and time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fleetlake.monitoring.readings import Reading, Received, Refused, checked
from fleetlake.monitoring.tables import monitoring_sensors
from fleetlake.platform.db import iso_utc
from fleetlake.platform.lake import Lake

BRONZE = ("monitoring", "bronze", "readings")
SILVER = ("monitoring", "silver", "readings")
QUARANTINE = ("monitoring", "quarantine")
SHOWN_REFUSED = 100  # refused records described in the answer (all are in the quarantine)
UTC_US = pa.timestamp("us", tz="UTC")
SILVER_SCHEMA = pa.schema([("sensor_id", pa.int32()), ("ts", UTC_US), ("ppmv", pa.float64())])
QUARANTINE_SCHEMA = pa.schema([("received_at", UTC_US), ("source", pa.string()),
                               ("line", pa.int64()), ("raw", pa.string()),
                               ("reason", pa.string())])  # fmt: skip


def land_readings(
    engine: Engine, lake: Lake, records: Iterable[Received | Refused], *, source: str,
    now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """Land one batch; what was accepted, refused (and why) and each sensor's count."""
    records = list(records)
    batch = batch_name(source, records)
    day = f"date={now.date().isoformat()}"
    lake.write_parquet(bronze_table(records, source=source, now=now), *BRONZE, day, batch)
    with engine.begin() as connection:
        known = connection.execute(batch_sensors(records)).all()
        keys = {str(r.id): r.id for r in known} | {r.source_id: r.id for r in known if r.source_id}
        latest = {r.id: r.last_reading_at for r in known}
        first_pass = [r if isinstance(r, Refused) else checked(r, sensors=keys) for r in records]
        accepted, refused = in_order(first_pass, latest=latest)
        write_silver(lake, accepted, batch=batch)
        if refused:
            lake.write_parquet(quarantine_table(refused, source=source, now=now),
                               *QUARANTINE, day, batch)  # fmt: skip
        counts = mark_latest(connection, accepted)
    return {
        "name": source,
        "status": f"{len(accepted)} readings of {len(counts)} sensors",
        "rows_loaded": len(accepted),
        "rows_quarantined": len(refused),
        "sensors": {str(k): v for k, v in sorted(counts.items())},
        "rejected": [{"line": r.line, "reason": r.reason} for r in refused[:SHOWN_REFUSED]],
    }


def batch_sensors(records: list[Received | Refused]) -> sa.Select[Any]:
    """The sensors the batch names, by id or source_id, locked in id order (so two batches
    never wait on each other crosswise) until the batch's newest readings are marked."""
    keys = {str(r.sensor).strip() for r in records if isinstance(r, Received)}
    ids = [int(k) for k in keys if k.isdigit() and len(k) < 10]
    s = monitoring_sensors
    named = sa.or_(s.c.id.in_(ids), s.c.source_id.in_(sorted(keys)))
    query = sa.select(s.c.id, s.c.source_id, s.c.last_reading_at).where(named)
    return query.order_by(s.c.id).with_for_update()


def batch_name(source: str, records: list[Received | Refused]) -> str:
    digest = hashlib.sha256(source.encode())
    for record in records:
        digest.update(record.raw.encode("utf-8", "replace"))
    return f"{digest.hexdigest()[:24]}.parquet"


def in_order(
    found: list[Reading | Refused], *, latest: dict[int, datetime | None]
) -> tuple[list[Reading], list[Refused]]:
    """The batch's readings by sensor and time; repeats and readings at or before the
    sensor's newest landed one refused (a batch may come in any order: it is sorted)."""
    refused = [r for r in found if isinstance(r, Refused)]
    readings = sorted((r for r in found if isinstance(r, Reading)),
                      key=lambda r: (r.sensor_id, r.ts, r.line))  # fmt: skip
    accepted: list[Reading] = []
    for reading in readings:
        newest = (
            accepted[-1].ts if accepted and accepted[-1].sensor_id == reading.sensor_id else None
        )
        before = latest.get(reading.sensor_id)
        if newest is not None and reading.ts == newest:
            kept = accepted[-1].line
            refused.append(_refused(reading, f"a second reading at {iso_utc(reading.ts)} "
                                    f"(line {kept} has it): dropped as a repeat"))  # fmt: skip
        elif newest is None and before is not None and reading.ts <= before:
            refused.append(_refused(reading, f"ts {iso_utc(reading.ts)} is at or before the "
                                    f"sensor's newest landed reading {iso_utc(before)}: a "
                                    "repeat or out of order"))  # fmt: skip
        else:
            accepted.append(reading)
    refused.sort(key=lambda r: r.line)
    return accepted, refused


def _refused(reading: Reading, reason: str) -> Refused:
    raw = Received(reading.line, reading.sensor_id, iso_utc(reading.ts), reading.ppmv).raw
    return Refused(reading.line, raw, reason)


def write_silver(lake: Lake, accepted: list[Reading], *, batch: str) -> None:
    """One file a sensor a day."""
    parts: dict[tuple[int, str], list[Reading]] = {}
    for reading in accepted:
        parts.setdefault((reading.sensor_id, reading.ts.date().isoformat()), []).append(reading)
    for (sensor_id, day), rows in parts.items():
        table = pa.table({"sensor_id": [r.sensor_id for r in rows], "ts": [r.ts for r in rows],
                          "ppmv": [r.ppmv for r in rows]}, schema=SILVER_SCHEMA)  # fmt: skip
        lake.write_parquet(table, *SILVER, f"sensor={sensor_id}", f"date={day}", batch)


def mark_latest(connection: Any, accepted: list[Reading]) -> dict[int, int]:
    counts: dict[int, int] = {}
    newest: dict[int, datetime] = {}
    for reading in accepted:
        counts[reading.sensor_id] = counts.get(reading.sensor_id, 0) + 1
        newest[reading.sensor_id] = reading.ts
    for sensor_id, count in counts.items():
        table = monitoring_sensors
        connection.execute(table.update().where(table.c.id == sensor_id).values(
            last_reading_at=newest[sensor_id], readings=table.c.readings + count))  # fmt: skip
    return counts


def bronze_table(records: list[Received | Refused], *, source: str, now: datetime) -> pa.Table:
    return pa.table({
        "received_at": pa.array([now] * len(records), UTC_US),
        "source": [source] * len(records),
        "line": [r.line for r in records],
        "raw": [r.raw for r in records],
    })  # fmt: skip


def quarantine_table(refused: list[Refused], *, source: str, now: datetime) -> pa.Table:
    return pa.table({
        "received_at": pa.array([now] * len(refused), UTC_US), "source": [source] * len(refused),
        "line": [r.line for r in refused], "raw": [r.raw for r in refused],
        "reason": [r.reason for r in refused],
    }, schema=QUARANTINE_SCHEMA)  # fmt: skip


def quarantined(lake: Lake, *, day: Any, after: int, limit: int) -> dict[str, Any]:
    """One day's refused readings (default: the latest day with any), newest first."""
    from fleetlake.platform.day_pages import day_page
    from fleetlake.platform.redact import redact_text

    page = day_page(lake, *QUARANTINE, day=day, schema=QUARANTINE_SCHEMA,
                    sort=[("received_at", "descending"), ("line", "ascending")],
                    after=after, limit=limit)  # fmt: skip
    rows = page.pop("rows")
    shown = [{"received_at": iso_utc(r["received_at"]), "source": redact_text(r["source"]),
              "line": r["line"], "reason": r["reason"], "raw": r["raw"][:2000]}
             for r in rows]  # fmt: skip
    return page | {"data": shown}
