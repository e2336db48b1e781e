import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fleetlake.telemetry.providers import adapter_for
from fleetlake.telemetry.schema import (
    CHARGING_STATES,
    GEARS,
    MEASURES,
    TELEMETRY_SCHEMA,
    TelemetryRecord,
    records_to_table,
    table_to_records,
)

INSTANT = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
NUMBER = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=64)
WORDS = {"charging_state": CHARGING_STATES, "gear": GEARS}
EXTRA = st.dictionaries(
    st.text(alphabet="abcdefghij._", min_size=1, max_size=8).map(lambda k: f"x_{k}"),
    st.none() | st.integers() | st.text(max_size=5),
    max_size=3,
)


@st.composite
def records(draw: Any) -> TelemetryRecord:
    values = {
        name: draw(st.none() | st.sampled_from(WORDS[name])) if name in WORDS else draw(NUMBER)
        for name in MEASURES
    }
    return TelemetryRecord.of(
        vin=draw(st.text(alphabet="ABCDEFGHJKLMNPRSTUVWXYZ0123456789", min_size=1, max_size=17)),
        ts=draw(INSTANT),
        received_at=draw(INSTANT),
        source=draw(st.sampled_from(["canonical", "tesla_fleet_api", "sim"])),
        values=values,
        extra=draw(EXTRA),
    )


@given(st.lists(records(), max_size=8))
def test_arrow_round_trip_keeps_every_field(batch: list[TelemetryRecord]) -> None:
    table = records_to_table(batch)
    assert table.schema == TELEMETRY_SCHEMA
    assert table_to_records(table) == batch


@given(records())
def test_a_record_sent_as_canonical_json_maps_back_to_itself(record: TelemetryRecord) -> None:
    message = {"vin": record.vin, "ts": record.ts.isoformat(), "source": record.source}
    message |= {name: value for name, value in record.measured().items()} | record.extra
    received = json.loads(json.dumps(message))  # as it arrives over HTTP
    batch = adapter_for("canonical").map(received, received_at=record.received_at)
    assert batch.rejected == []
    assert batch.records == [record]
