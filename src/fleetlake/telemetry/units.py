"""Values as providers send them → canonical numbers, times and units.

Providers send numbers as strings ("12.3"), invalid markers ("<invalid>", null), epochs in
seconds or milliseconds, and miles, fractions and watts; everything here returns None for
"not a value" rather than guessing 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

KM_PER_MILE = 1.609344


def to_number(value: Any) -> float | None:
    """A finite float from a number or numeric string; None for null, invalid or non-numeric."""
    if isinstance(value, bool) or value is None:
        return None  # True is no speed
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


# Epoch magnitudes: an instant of 2001 to 2286 is 1e9..1e10 s, 1e12..1e13 ms, 1e15..1e16 µs.
_EPOCH_UNITS = ((10**17, 10**9), (10**14, 10**6), (10**11, 10**3), (0, 1))  # (floor, per s)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_to_utc(value: Any) -> datetime | None:
    """Seconds, milliseconds, microseconds or nanoseconds since 1970 → aware UTC datetime,
    the unit told by the magnitude (ms and s of any date after 1973 cannot be confused).
    Integers are converted exactly (a float holds no nanosecond epoch to the microsecond)."""
    number: int | float | None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        number = to_number(value)
    if number is None or number < 0:
        return None
    per_second = next(per_s for floor, per_s in _EPOCH_UNITS if number >= floor)
    micros = number * 10**6 // per_second if isinstance(number, int) else number * 1e6 / per_second
    try:
        return EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return None


def to_utc(value: Any) -> datetime | None:
    """An ISO 8601 text (naive means UTC), an epoch number or text, or a datetime → UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str) and to_number(value) is None:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return epoch_to_utc(value)


def _scale(factor: float) -> Callable[[float], float]:
    return lambda number: number * factor


# Unit name → function to the canonical unit of that quantity (km, km/h, %, kW, kWh, °C, °).
# Names as providers spell them: short symbols and High Mobility's spelled-out units.
CONVERSIONS: dict[str, Callable[[float], float]] = {
    **dict.fromkeys(["km", "kilometers", "kilometres"], _scale(1.0)),
    **dict.fromkeys(["m", "meters", "metres"], _scale(0.001)),
    **dict.fromkeys(["mi", "mile", "miles"], _scale(KM_PER_MILE)),
    **dict.fromkeys(["km/h", "kmh", "kph", "kilometers_per_hour"], _scale(1.0)),
    **dict.fromkeys(["mph", "mi/h", "miles_per_hour"], _scale(KM_PER_MILE)),
    **dict.fromkeys(["m/s", "meters_per_second"], _scale(3.6)),
    **dict.fromkeys(["%", "percent", "percentage"], _scale(1.0)),
    "fraction": _scale(100.0),
    **dict.fromkeys(["kw", "kW", "kilowatts"], _scale(1.0)),
    **dict.fromkeys(["w", "W", "watts"], _scale(0.001)),
    **dict.fromkeys(["kwh", "kWh", "kilowatt_hours"], _scale(1.0)),
    **dict.fromkeys(["wh", "Wh", "watt_hours"], _scale(0.001)),
    **dict.fromkeys(["c", "C", "°C", "celsius"], _scale(1.0)),
    **dict.fromkeys(["f", "F", "°F", "fahrenheit"], lambda f: (f - 32.0) * 5.0 / 9.0),
    **dict.fromkeys(["k", "K", "kelvin"], lambda k: k - 273.15),
    **dict.fromkeys(["deg", "°", "degrees"], _scale(1.0)),
}


def convert(value: Any, unit: str | None) -> float | None:
    """`value` in `unit` → the canonical unit; None when it is not a number.
    Raises KeyError for a unit name not in CONVERSIONS (a mapping error, not a data one)."""
    number = to_number(value)
    if number is None:
        return None
    return number if unit is None else CONVERSIONS[unit](number)


def miles_to_km(value: Any) -> float | None:
    return convert(value, "miles")


def fraction_to_pct(value: Any) -> float | None:
    return convert(value, "fraction")


def watts_to_kw(value: Any) -> float | None:
    return convert(value, "W")
