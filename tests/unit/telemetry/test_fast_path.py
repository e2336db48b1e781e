"""The bulk path lands exactly what the per-message path lands, or declines."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetlake.platform.lake import Lake
from fleetlake.telemetry import bronze
from fleetlake.telemetry.bronze import BronzeBuffers, LandingRules
from fleetlake.telemetry.fast_path import canonical_ndjson, write_buffer_table
from fleetlake.telemetry.files import messages_in
from fleetlake.telemetry.ingest import land
from fleetlake.telemetry.providers import adapter_for
from fleetlake.telemetry.schema import MEASURES
from tests.unit.telemetry.test_schema import records

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
ORDER = [("vin", "ascending"), ("ts", "ascending"), ("received_at", "ascending")]


def slow(body: bytes, lake: Lake, monkeypatch: pytest.MonkeyPatch) -> pa.Table:
    result = {"source": "x", "messages": 0, "rows_loaded": 0, "rows_quarantined": 0}
    with monkeypatch.context() as patch:
        patch.setattr("fleetlake.telemetry.ingest.datetime", _Frozen)
        land(messages_in(body, ndjson=True), adapter=adapter_for("canonical"),
             buffers=BronzeBuffers(lake), result=result)  # fmt: skip
    return _landed(lake)


def _landed(lake: Lake) -> pa.Table:
    files = lake.list_files(*bronze.BUFFER)
    return (
        pa.concat_tables(pq.read_table(f) for f in files).sort_by(ORDER) if files else pa.table({})
    )


class _Frozen(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return NOW


def line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(records(), min_size=1, max_size=12), st.booleans())
def test_bulk_equals_per_message_or_declines(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    batch: list[Any],
    with_receipt: bool,
) -> None:
    body = b""
    for record in batch:
        message = {"vin": record.vin, "ts": record.ts.isoformat(), "source": record.source}
        message |= record.measured() | record.extra
        if with_receipt:
            message["received_at"] = record.received_at.isoformat()
        body += line(message)
    rules = LandingRules()
    bulk = canonical_ndjson(body, received_at=NOW, rules=rules)
    if any(record.extra for record in batch):
        assert bulk is None  # unknown fields belong in extra: the per-message path's work
        return
    received = [r.received_at if with_receipt else NOW for r in batch]
    refused = [
        rules.problem(replace(r, received_at=at)) for r, at in zip(batch, received, strict=True)
    ]
    if any(refused):  # out of the landing window: the per-message path quarantines it
        assert bulk is None
        slow_lake = Lake(str(tmp_path_factory.mktemp("refused")))
        kept = [r for r, why in zip(batch, refused, strict=True) if why is None]
        assert slow(body, slow_lake, monkeypatch).num_rows == len(kept)
        return
    assert bulk is not None
    fast_lake = Lake(str(tmp_path_factory.mktemp("fast")))
    write_buffer_table(fast_lake, bulk)
    slow_lake = Lake(str(tmp_path_factory.mktemp("slow")))
    assert _landed(fast_lake).equals(slow(body, slow_lake, monkeypatch))


@pytest.mark.parametrize(
    "message",
    [
        {"vin": "V1", "ts": "2026-11-21T10:00:00Z", "speed_kmh": "50"},  # a number as text
        {"vin": "V1", "ts": "2026-11-21T10:00:00"},  # no zone
        {"vin": "V1", "ts": 1795255200000},  # an epoch
        {"vin": "../V1", "ts": "2026-11-21T10:00:00Z"},  # unusable VIN
        {"ts": "2026-11-21T10:00:00Z"},  # no VIN
        {"vin": "V1", "ts": "2026-11-21T10:00:00Z", "gear": "ShiftStateD"},
        {"vin": "V1", "ts": "2026-11-21T10:00:00Z", "charging_state": "Starting"},
        {"vin": "V1", "ts": "2026-11-21T10:00:00Z", "tyre_kpa": 240},
    ],
)
def test_what_needs_the_per_message_path_is_declined(message: dict[str, Any]) -> None:
    good = line({"vin": "V2", "ts": "2026-11-21T10:00:00Z", "soc_pct": 50})
    assert canonical_ndjson(good + line(message), received_at=NOW, rules=LandingRules()) is None


def test_a_plain_body_lands_per_vehicle_and_day(tmp_path: Path) -> None:
    body = b"".join(
        line({"vin": vin, "ts": ts, "speed_kmh": 10, "charging_state": "CHARGING", "gear": "d"})
        for vin in ("A1", "B2")
        for ts in ("2026-11-20T23:59:59Z", "2026-11-21T00:00:01+00:00")
    )
    table = canonical_ndjson(body, received_at=NOW, rules=LandingRules())
    assert table is not None and table.num_rows == 4
    assert set(table["charging_state"].to_pylist()) == {"charging"}
    assert set(table["gear"].to_pylist()) == {"D"}
    assert table["received_at"].to_pylist() == [NOW] * 4
    lake = Lake(str(tmp_path))
    assert write_buffer_table(lake, table) == 4  # two vehicles x two days
    assert {p.split("/_buffer/")[1].rsplit("/", 1)[0] for p in lake.list_files(*bronze.BUFFER)} == {
        "A1/date=2026-11-20", "A1/date=2026-11-21", "B2/date=2026-11-20", "B2/date=2026-11-21"
    }  # fmt: skip
    assert set(MEASURES) <= set(table.column_names)


@pytest.mark.parametrize("first", [b"null", b"  null", b"\n\nnull", b"[]", b"1", b'"x"'])
def test_a_body_not_opening_with_an_object_is_declined(first: bytes) -> None:
    """Arrow's reader crashes the process on a leading `null`: never handed one."""
    body = first + b"\n" + line({"vin": "V2", "ts": "2026-11-21T10:00:00Z", "soc_pct": 50})
    assert canonical_ndjson(body, received_at=NOW, rules=LandingRules()) is None
