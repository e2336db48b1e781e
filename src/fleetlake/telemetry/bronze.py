"""Bronze: a buffer per vehicle, flushed atomically to `bronze/telemetry/_buffer/<VIN>/`.

A vehicle's buffer is flushed when it holds `flush_messages` records, when its oldest is
`flush_seconds` old, or — all of them — when `max_held` messages wait in all buffers (a
broker stops delivering past its window of unacknowledged messages). A flush writes one
Parquet file per UTC day of the records' `ts`:
`_buffer/<VIN>/date=YYYY-MM-DD/<flush id>.parquet`, whole or not at all. A message is
acknowledged once every record made of it is in such a file (at-least-once: a crash before
the acknowledgement redelivers it, and silver removes the duplicate). Messages no record
could be made of go to `bronze/_quarantine/telemetry/date=…/` the same way, with their
reason (outside `bronze/telemetry/`, so that a reader's glob there sees records only).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from fleetlake.platform.lake import Lake
from fleetlake.settings import Settings
from fleetlake.telemetry.schema import (
    MappedBatch,
    RejectedPayload,
    TelemetryRecord,
    record_text,
    records_to_table,
)

BUFFER = ("bronze", "telemetry", "_buffer")
QUARANTINE = ("bronze", "_quarantine", "telemetry")  # beside bronze/telemetry: not in its glob
QUARANTINE_SCHEMA = pa.schema(
    [
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("source", pa.string()),
        ("position", pa.int64()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)
# A VIN becomes a folder and file name; one starting with _ or . would be hidden from readers.
SAFE_VIN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
SAFE_VIN = re.compile(SAFE_VIN_PATTERN)
VIN_RULE = "1-64 letters, digits, - or _, starting with a letter or digit"
KEEP_REASONS = 1000
WRITERS = 4  # vehicles' files written at once
REJECTED_KEY = ""  # the quarantine's buffer: no VIN is empty


@dataclass(frozen=True)
class LandingRules:
    """What a record must be to land in bronze; anything else is quarantined with its reason."""

    earliest: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    max_ahead: timedelta = timedelta(days=1)  # past receipt: a clock far ahead is not data

    @classmethod
    def from_settings(cls, settings: Settings) -> LandingRules:
        return cls(
            earliest=settings.telemetry.earliest_ts,
            max_ahead=timedelta(seconds=settings.telemetry.max_ahead_s),
        )

    def problem(self, record: TelemetryRecord) -> str | None:
        """Why the record cannot land, or None."""
        if not SAFE_VIN.match(record.vin):
            return f"vin {record.vin[:80]!r} is not {VIN_RULE}"
        if record.ts < self.earliest:
            earliest = self.earliest.isoformat()
            return (
                f"ts {record.ts.isoformat()} is before {earliest} (FLEETLAKE_TELEMETRY_EARLIEST_TS)"
            )
        if record.ts > record.received_at + self.max_ahead:
            ahead = self.max_ahead.total_seconds()
            return (
                f"ts {record.ts.isoformat()} is more than {ahead:g} s after its receipt at "
                f"{record.received_at.isoformat()} (FLEETLAKE_TELEMETRY_MAX_AHEAD_S)"
            )
        return None


@dataclass
class Delivery:
    """One received message, acknowledged once every row made of it is durable."""

    pending: int
    ack: Callable[[], object] | None

    def done(self, rows: int) -> None:
        self.pending -= rows
        if self.pending == 0 and self.ack is not None:
            self.ack()


@dataclass
class _Held:
    rows: list[Any] = field(default_factory=list)  # records (or quarantine rows)
    tables: list[pa.Table] = field(default_factory=list)  # canonical rows landed in bulk
    deliveries: list[tuple[Delivery, int]] = field(default_factory=list)
    since: float = 0.0

    @property
    def size(self) -> int:
        return len(self.rows) + sum(int(table.num_rows) for table in self.tables)


@dataclass
class BufferStats:
    messages: int = 0
    records: int = 0
    rejected: int = 0
    files: int = 0
    rows_flushed: int = 0


class BronzeBuffers:
    """Per-vehicle buffers in front of the lake; safe to feed from several threads."""

    def __init__(
        self,
        lake: Lake,
        *,
        flush_messages: int = 1000,
        flush_seconds: float = 30.0,
        max_held: int = 50_000,
        rules: LandingRules | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lake = lake
        self.rules = rules or LandingRules()
        self.flush_messages = flush_messages
        self.flush_seconds = flush_seconds
        self.max_held = max_held
        self.clock = clock
        self.stats = BufferStats()
        self.quarantined: list[dict[str, Any]] = []  # the first KEEP_REASONS, to report
        self._held: dict[str, _Held] = {}
        self._count = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> BronzeBuffers:
        """Buffers over the configured lake, flushed as FLEETLAKE_TELEMETRY_* say."""
        return cls(
            Lake(settings.resolved_lake_uri),
            flush_messages=settings.telemetry.flush_messages,
            flush_seconds=settings.telemetry.flush_seconds,
            max_held=settings.telemetry.max_held,
            rules=LandingRules.from_settings(settings),
        )

    def add(
        self,
        batch: MappedBatch,
        *,
        source: str,
        received_at: datetime,
        ack: Callable[[], object] | None = None,
        position: int = 0,
    ) -> None:
        """Hold what one message became (`position`: its line or index in its source);
        flush the buffers that became due."""
        by_key: dict[str, list[Any]] = {}
        for record in batch.records:
            if (reason := self.rules.problem(record)) is None:
                by_key.setdefault(record.vin, []).append(record)
            else:
                by_key.setdefault(REJECTED_KEY, []).append(
                    _quarantine_row(
                        RejectedPayload(position, reason, record_text(record)), source, received_at
                    )
                )
        for rejected in batch.rejected:
            by_key.setdefault(REJECTED_KEY, []).append(
                _quarantine_row(rejected, source, received_at)
            )
        delivery = Delivery(pending=sum(len(rows) for rows in by_key.values()), ack=ack)
        with self._lock:
            self.stats.messages += 1
            self.stats.records += sum(len(v) for k, v in by_key.items() if k != REJECTED_KEY)
            self.stats.rejected += len(by_key.get(REJECTED_KEY, []))
            room = KEEP_REASONS - len(self.quarantined)
            self.quarantined.extend(by_key.get(REJECTED_KEY, [])[: max(room, 0)])
            for key, rows in by_key.items():
                held = self._held.setdefault(key, _Held(since=self.clock()))
                held.rows.extend(rows)
                held.deliveries.append((delivery, len(rows)))
                self._count += len(rows)
            due = self._take_due(force=False)
        if delivery.pending == 0 and ack is not None:
            ack()  # nothing to keep (an empty payload)
        self._write(due)

    def add_table(
        self,
        table: pa.Table,
        *,
        messages: int,
        ack: Callable[[], object] | None = None,
    ) -> None:
        """Hold canonical rows already checked in bulk (`rules` hold), `messages` of them
        acknowledged together once every row is durable."""
        if table.num_rows == 0:
            if ack is not None:
                ack()  # nothing to keep
            return
        table = table.sort_by([("vin", "ascending")])
        positions = pa.table({"vin": table["vin"], "i": pa.array(range(table.num_rows))})
        spans = positions.group_by("vin", use_threads=False).aggregate([("i", "min"), ("i", "max")])
        delivery = Delivery(pending=table.num_rows, ack=ack)
        with self._lock:
            self.stats.messages += messages
            self.stats.records += table.num_rows
            for vin, low, high in zip(
                *(spans[c].to_pylist() for c in ("vin", "i_min", "i_max")), strict=True
            ):
                held = self._held.setdefault(vin, _Held(since=self.clock()))
                held.tables.append(table.slice(low, high - low + 1))
                held.deliveries.append((delivery, high - low + 1))
                self._count += high - low + 1
            due = self._take_due(force=False)
        self._write(due)

    def flush_due(self) -> int:
        """Flush the buffers that are full or old enough (call it on a timer); rows written."""
        with self._lock:
            due = self._take_due(force=False)
        return self._write(due)

    def flush_all(self) -> int:
        """Flush everything held (at shutdown); rows written."""
        with self._lock:
            due = self._take_due(force=True)
        return self._write(due)

    def _take_due(self, *, force: bool) -> dict[str, _Held]:
        now = self.clock()
        everything = force or self._count >= self.max_held
        due = {
            key: held
            for key, held in self._held.items()
            if everything
            or held.size >= self.flush_messages
            or now - held.since >= self.flush_seconds
        }
        for key, held in due.items():
            del self._held[key]
            self._count -= held.size
        return due

    def _write(self, due: dict[str, _Held]) -> int:
        """Write the due buffers — several vehicles at a time: compression and fsync release
        the GIL — then acknowledge what is durable; a failed one is held again, and raised."""
        if not due:
            return 0
        if len(due) == 1:
            outcomes = {key: _attempt(self._write_one, key, held) for key, held in due.items()}
        else:
            with ThreadPoolExecutor(min(WRITERS, len(due))) as pool:
                futures = {
                    key: pool.submit(_attempt, self._write_one, key, held)
                    for key, held in due.items()
                }
            outcomes = {key: future.result() for key, future in futures.items()}
        written, failure = 0, None
        for key, (files, error) in outcomes.items():
            held = due[key]
            if error is not None:
                self._hold_again(key, held)  # unacknowledged: kept for the next flush
                failure = failure or error
                continue
            with self._lock:
                self.stats.files += files
                self.stats.rows_flushed += held.size
            for delivery, rows in held.deliveries:
                delivery.done(rows)
            written += held.size
        if failure is not None:
            raise failure
        return written

    def _write_one(self, key: str, held: _Held) -> int:
        if key == REJECTED_KEY:
            return write_quarantine(self.lake, held.rows)
        return write_buffer(self.lake, key, held.rows, held.tables)

    def _hold_again(self, key: str, held: _Held) -> None:
        with self._lock:
            current = self._held.setdefault(key, _Held(since=held.since))
            current.rows[:0] = held.rows
            current.tables[:0] = held.tables
            current.deliveries[:0] = held.deliveries
            current.since = min(current.since, held.since)
            self._count += held.size


def _attempt(
    write: Callable[[str, _Held], int], key: str, held: _Held
) -> tuple[int, BaseException | None]:
    """(files written, None) or (0, the error): a failure is the caller's to handle."""
    try:
        return write(key, held), None
    except BaseException as error:  # kept whole, raised again by the caller
        return 0, error


def flush_id() -> str:
    """Sortable by time of flush, unique across processes."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}"


def write_buffer(
    lake: Lake,
    vin: str,
    records: list[TelemetryRecord],
    tables: list[pa.Table] = (),  # type: ignore[assignment]
) -> int:
    """One atomic Parquet file per UTC day of `ts`; the number of files written."""
    import pyarrow.compute as pc

    parts = ([records_to_table(records)] if records else []) + list(tables or [])
    rows = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    days = pc.cast(rows["ts"], pa.date32())
    name = flush_id()
    distinct = pc.unique(days).to_pylist()
    for day in distinct:
        chunk = rows.filter(pc.equal(days, pa.scalar(day, pa.date32())))
        lake.write_parquet(chunk, *BUFFER, vin, f"date={day.isoformat()}", f"{name}.parquet")
    return len(distinct)


def write_quarantine(lake: Lake, rows: list[dict[str, Any]]) -> int:
    by_day: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(row["received_at"].date().isoformat(), []).append(row)
    name = flush_id()
    for day, day_rows in by_day.items():
        table = pa.Table.from_pylist(day_rows, schema=QUARANTINE_SCHEMA)
        lake.write_parquet(table, *QUARANTINE, f"date={day}", f"{name}.parquet")
    return len(by_day)


def _quarantine_row(
    rejected: RejectedPayload, source: str, received_at: datetime
) -> dict[str, Any]:
    return {
        "received_at": received_at.astimezone(UTC),
        "source": source,
        "position": rejected.position,
        "reason": rejected.reason,
        "raw": rejected.raw,
    }
