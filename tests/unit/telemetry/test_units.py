from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetlake.telemetry.units import (
    KM_PER_MILE,
    convert,
    epoch_to_utc,
    fraction_to_pct,
    miles_to_km,
    to_number,
    to_utc,
    watts_to_kw,
)

INSTANTS = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))  # whole ms


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_number_and_its_text_read_the_same(number: float) -> None:
    assert to_number(number) == number
    assert to_number(repr(number)) == number
    assert to_number(f"  {number!r} ") == number


@pytest.mark.parametrize("value", [None, True, False, "", "<invalid>", "NaN", "inf", [], {}])
def test_what_is_not_a_number_is_none_not_zero(value: object) -> None:
    assert to_number(value) is None


@given(INSTANTS)
def test_epoch_seconds_ms_us_ns_are_the_same_instant(instant: datetime) -> None:
    seconds = (instant - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(seconds=1)
    whole_ms = round(seconds * 1000)
    assert epoch_to_utc(whole_ms) == instant
    assert epoch_to_utc(whole_ms * 1000) == instant
    assert epoch_to_utc(whole_ms * 1_000_000) == instant
    assert epoch_to_utc(str(whole_ms)) == instant
    assert epoch_to_utc(whole_ms // 1000) == instant.replace(microsecond=0)


def test_known_epochs() -> None:
    assert epoch_to_utc(1607623897515) == datetime(2020, 12, 10, 18, 11, 37, 515000, tzinfo=UTC)
    assert epoch_to_utc(1701129612) == datetime(2023, 11, 28, 0, 0, 12, tzinfo=UTC)
    assert epoch_to_utc(-1) is None
    assert epoch_to_utc("soon") is None


@given(INSTANTS, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_iso_texts_in_any_offset_are_utc(instant: datetime, offset_minutes: int) -> None:
    local = instant.astimezone(UTC).astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert to_utc(local.isoformat()) == instant
    assert to_utc(instant.isoformat().replace("+00:00", "Z")) == instant
    assert to_utc(instant.replace(tzinfo=None).isoformat()) == instant  # naive means UTC


def test_to_utc_refuses_what_is_no_time() -> None:
    assert to_utc("yesterday") is None
    assert to_utc(None) is None


def test_unit_conversions_against_their_definitions() -> None:
    assert miles_to_km(100) == pytest.approx(160.9344)
    assert miles_to_km("1") == KM_PER_MILE
    assert fraction_to_pct(0.5) == 50.0
    assert watts_to_kw("7400") == pytest.approx(7.4)
    assert convert(212, "fahrenheit") == pytest.approx(100.0)
    assert convert(0, "K") == pytest.approx(-273.15)
    assert convert(10, "m/s") == pytest.approx(36.0)
    assert convert(60, "miles_per_hour") == pytest.approx(96.56064)
    assert convert(None, "mph") is None
    with pytest.raises(KeyError):
        convert(1, "furlongs")
