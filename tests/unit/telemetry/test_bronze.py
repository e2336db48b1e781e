from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetlake.platform.lake import Lake
from fleetlake.telemetry import bronze
from fleetlake.telemetry.bronze import BronzeBuffers
from fleetlake.telemetry.compaction import compact, compacted_path
from fleetlake.telemetry.schema import MappedBatch, RejectedPayload, TelemetryRecord

T0 = datetime(2026, 11, 20, 23, 59, 58, tzinfo=UTC)


def record(vin: str, seconds: float, speed: float | None = 10.0) -> TelemetryRecord:
    ts = T0 + timedelta(seconds=seconds)
    return TelemetryRecord.of(
        vin=vin, ts=ts, received_at=ts, source="test", values={"speed_kmh": speed}
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def buffer_files(lake: Lake, *parts: str) -> list[str]:
    return lake.list_files(*bronze.BUFFER, *parts)


def acks() -> tuple[list[int], Any]:
    done: list[int] = []
    return done, lambda n: lambda: done.append(n)


def test_a_vehicle_flushes_at_its_message_count_and_acks_after(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    buffers = BronzeBuffers(lake, flush_messages=3, flush_seconds=60, clock=Clock())
    done, ack = acks()
    for n in range(2):
        buffers.add(MappedBatch([record("A", n / 2)]), source="t", received_at=T0, ack=ack(n))
        buffers.add(MappedBatch([record("B", n / 2)]), source="t", received_at=T0, ack=ack(10 + n))
    assert done == [] and buffer_files(lake) == []
    buffers.add(MappedBatch([record("A", 1)]), source="t", received_at=T0, ack=ack(2))
    assert done == [0, 1, 2]  # B still held, unacknowledged
    [written] = buffer_files(lake, "A")
    assert "date=2026-11-20" in written
    assert pq.read_table(written).column("speed_kmh").to_pylist() == [10.0, 10.0, 10.0]


def test_age_and_the_global_cap_flush(tmp_path: Path) -> None:
    lake, clock = Lake(str(tmp_path)), Clock()
    buffers = BronzeBuffers(lake, flush_messages=100, flush_seconds=30, max_held=5, clock=clock)
    done, ack = acks()
    buffers.add(MappedBatch([record("A", 0)]), source="t", received_at=T0, ack=ack(0))
    clock.now = 29.0
    assert buffers.flush_due() == 0
    clock.now = 30.0
    assert buffers.flush_due() == 1 and done == [0]
    for n in range(1, 5):
        buffers.add(MappedBatch([record(f"V{n}", n)]), source="t", received_at=T0, ack=ack(n))
    assert done == [0]  # four held, under the cap of five
    buffers.add(MappedBatch([record("V9", 9)]), source="t", received_at=T0, ack=ack(9))
    assert sorted(done) == [0, 1, 2, 3, 4, 9]


def test_a_message_is_acked_once_all_its_records_are_durable(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    buffers = BronzeBuffers(lake, flush_messages=2, flush_seconds=60, clock=Clock())
    done, ack = acks()
    batch = MappedBatch([record("A", 0), record("A", 5)])  # crosses midnight: two files
    batch.rejected.append(RejectedPayload(1, "no vin", "{}"))
    buffers.add(batch, source="t", received_at=T0, ack=ack(1))
    assert done == []  # the rejected row is still held
    assert len(buffer_files(lake, "A")) == 2
    buffers.flush_all()
    assert done == [1]
    [quarantined] = lake.list_files(*bronze.QUARANTINE)
    assert pq.read_table(quarantined).to_pylist()[0]["reason"] == "no vin"


def test_a_vin_unfit_for_a_path_is_quarantined_not_written(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    buffers = BronzeBuffers(lake, flush_messages=1, flush_seconds=60, clock=Clock())
    buffers.add(MappedBatch([record("../../etc", 0)]), source="t", received_at=T0)
    buffers.flush_all()
    assert buffer_files(lake) == []
    [quarantined] = lake.list_files(*bronze.QUARANTINE)
    assert "is not 1-64 letters" in pq.read_table(quarantined).column("reason")[0].as_py()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]


def test_a_failed_flush_keeps_the_rows_for_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(str(tmp_path))
    buffers = BronzeBuffers(lake, flush_messages=1, flush_seconds=60, clock=Clock())
    done, ack = acks()
    real = bronze.write_buffer

    def full_disk(*args: Any) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bronze, "write_buffer", full_disk)
    with pytest.raises(OSError):
        buffers.add(MappedBatch([record("A", 0)]), source="t", received_at=T0, ack=ack(0))
    assert done == []
    monkeypatch.setattr(bronze, "write_buffer", real)
    assert buffers.flush_all() == 1 and done == [0]


def test_compaction_merges_buffers_late_data_and_skips_today(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    buffers = BronzeBuffers(lake, flush_messages=2, flush_seconds=60, clock=Clock())
    for n in (3, 1, 2, 0):  # out of order, midnight at 2 s
        buffers.add(MappedBatch([record("A", n)]), source="t", received_at=T0)
    buffers.flush_all()
    day1, day2 = date(2026, 11, 20), date(2026, 11, 21)
    first = compact(lake, before=day2)  # day2 is "today": left alone
    assert first.to_dict() == {
        "vehicle_days": 1, "buffer_files": 2, "rows_added": 2, "stale_deleted": 0
    }  # fmt: skip
    assert buffer_files(lake, "A", "date=2026-11-20") == []
    assert len(buffer_files(lake, "A", "date=2026-11-21")) == 2
    table = lake.read_parquet(*compacted_path(day1, "A"))
    assert table.column("ts").to_pylist() == [T0, T0 + timedelta(seconds=1)]
    assert compact(lake, day=day1).rows_added == 0  # idempotent
    buffers.add(MappedBatch([record("A", 0.5, speed=None)]), source="t", received_at=T0)
    buffers.flush_all()  # late data for a compacted day
    assert compact(lake, day=day1).rows_added == 1
    table = lake.read_parquet(*compacted_path(day1, "A"))
    assert table.column("speed_kmh").to_pylist() == [10.0, None, 10.0]


def test_a_crash_between_the_compacted_file_and_the_deletes_duplicates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(str(tmp_path))
    buffers = BronzeBuffers(lake, flush_messages=1, flush_seconds=60, clock=Clock())
    for n in range(3):
        buffers.add(MappedBatch([record("A", -n)]), source="t", received_at=T0)
    day = date(2026, 11, 20)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as patch:
        patch.setattr(lake.fs, "rm", crash)
        with pytest.raises(KeyboardInterrupt):
            compact(lake, day=day)
    assert len(buffer_files(lake, "A")) == 3  # merged, not yet deleted
    again = compact(lake, day=day)
    assert again.days[0].stale_deleted == 3 and again.rows_added == 0
    assert lake.read_parquet(*compacted_path(day, "A")).num_rows == 3
    with monkeypatch.context() as patch:  # and a crash before the file is in place
        buffers.add(MappedBatch([record("A", -9)]), source="t", received_at=T0)
        patch.setattr(lake, "write_parquet", crash)
        with pytest.raises(KeyboardInterrupt):
            compact(lake, day=day)
    assert compact(lake, day=day).rows_added == 1
    assert lake.read_parquet(*compacted_path(day, "A")).num_rows == 4


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(-200_000, 200_000)),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 7),
    st.integers(1, 4),
)
def test_every_record_lands_in_its_compacted_day_exactly_once(
    tmp_path_factory: pytest.TempPathFactory,
    sent: list[tuple[str, int]],
    flush_messages: int,
    compactions: int,
) -> None:
    lake = Lake(str(tmp_path_factory.mktemp("lake")))
    buffers = BronzeBuffers(lake, flush_messages=flush_messages, flush_seconds=60, clock=Clock())
    for index, (vin, seconds) in enumerate(sent):
        buffers.add(MappedBatch([record(vin, seconds)]), source="t", received_at=T0)
        if index % max(1, len(sent) // compactions) == 0:
            compact(lake, before=date(2100, 1, 1))  # compactions between flushes
    buffers.flush_all()
    compact(lake, before=date(2100, 1, 1))
    assert buffer_files(lake) == []
    landed: Counter[tuple[str, datetime]] = Counter()
    for path in lake.list_files("bronze", "telemetry"):
        table = pq.read_table(path)
        day = date.fromisoformat(path.split("date=")[1][:10])
        vin = path.rsplit("/", 1)[1].removesuffix(".parquet")
        assert table.column("ts").to_pylist() == sorted(table.column("ts").to_pylist())
        for ts in table.column("ts").to_pylist():
            assert ts.date() == day
            landed[(vin, ts)] += 1
    assert landed == Counter((vin, T0 + timedelta(seconds=s)) for vin, s in sent)


def test_rows_landed_in_bulk_are_held_per_vehicle_and_acked_together(tmp_path: Path) -> None:
    from fleetlake.telemetry.schema import records_to_table

    lake = Lake(str(tmp_path))
    buffers = BronzeBuffers(lake, flush_messages=3, flush_seconds=60, clock=Clock())
    done, ack = acks()
    table = records_to_table([record("A", 0), record("B", 0), record("A", 1)])
    buffers.add_table(table, messages=3, ack=ack(1))
    buffers.add(MappedBatch([record("A", 1.5)]), source="t", received_at=T0, ack=ack(2))
    assert done == [2] and buffers_files(lake) == ["A"]  # A reached 3 rows; B still held
    buffers.flush_all()
    assert sorted(done) == [1, 2]
    rows = pq.read_table(buffer_files(lake, "A")[0]).to_pylist()
    assert [r["ts"] for r in rows] == [T0 + timedelta(seconds=s) for s in (1.5, 0, 1)]


def buffers_files(lake: Lake) -> list[str]:
    return sorted({p.split("/_buffer/")[1].split("/")[0] for p in buffer_files(lake)})
