"""The lot CSV parser: valid rows read back exactly, anything else is a reason, never a crash."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlake.charging.parse import ParkedCar, Refused, parse_rows
from fleetlake.errors import SourceRejected

HEADER = "vehicle,current_charge,total_charge,desired_percentage,max_power_kw,departure\n"
plates = st.from_regex(r"[A-Z0-9ÄÖÜ][A-Z0-9 .\-]{0,20}[A-Z0-9]", fullmatch=True).filter(
    lambda p: "  " not in p
)


def rows_of(text: str) -> list[ParkedCar | Refused]:
    return list(parse_rows(io.StringIO(text)))


@settings(max_examples=200)
@given(
    plate=plates,
    total=st.floats(0.1, 300),
    share=st.floats(0, 1),
    desired=st.floats(0.01, 100),
    power=st.none() | st.floats(0.1, 1000),
    departure=st.none()
    | st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
)
def test_a_valid_row_reads_back_exactly(
    plate: str,
    total: float,
    share: float,
    desired: float,
    power: float | None,
    departure: datetime | None,
) -> None:
    current = total * share
    buffer = io.StringIO()
    csv.writer(buffer).writerow([plate, repr(current), repr(total), repr(desired),
                                 "" if power is None else repr(power),
                                 "" if departure is None else departure.isoformat()])  # fmt: skip
    (row,) = rows_of(HEADER + buffer.getvalue())
    assert isinstance(row, ParkedCar), row
    assert (row.plate, row.charge_kwh, row.capacity_kwh, row.desired_pct) == (
        plate, current, total, desired)  # fmt: skip
    assert (row.max_power_kw, row.departure, row.line) == (power, departure, 2)


@settings(max_examples=300)
@given(body=st.text(max_size=300))
def test_any_text_is_rows_or_reasons_never_a_crash(body: str) -> None:
    for row in rows_of(HEADER + body):
        assert isinstance(row, ParkedCar | Refused)
        if isinstance(row, Refused):
            assert row.reason and row.line >= 2


def test_lines_count_quoted_newlines_and_skip_blank_ones() -> None:
    text = HEADER + '"AB\n1",1,2,3,,\n\nCD1,1,2,3,,\n'
    first, second = rows_of(text)
    assert isinstance(first, Refused) and first.line == 2  # a newline is not a plate character
    assert isinstance(second, ParkedCar) and second.line == 5


def test_a_line_that_is_not_csv_is_refused_and_the_next_one_read() -> None:
    first, second = rows_of(HEADER + "AB\r1,1,2,3,,\nCD1,1,2,3,,\n")
    assert isinstance(first, Refused) and "not a CSV line" in first.reason
    assert isinstance(second, ParkedCar) and second.plate == "CD1"


def test_columns_in_any_order_and_case() -> None:
    (row,) = rows_of("Desired_Percentage,TOTAL_CHARGE,vehicle,current_charge\n80,60,AB1,12\n")
    assert isinstance(row, ParkedCar) and (row.plate, row.charge_kwh, row.desired_pct) == (
        "AB1", 12.0, 80.0)  # fmt: skip


def test_a_time_without_zone_is_utc() -> None:
    (row,) = rows_of(HEADER + "AB1,1,2,3,,2030-01-02T03:04:05\n")
    assert isinstance(row, ParkedCar)
    assert row.departure == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "\n\n", "plate,charge\n"])
def test_no_header_or_a_wrong_one_refuses_the_file(text: str) -> None:
    with pytest.raises(SourceRejected):
        rows_of(text)
