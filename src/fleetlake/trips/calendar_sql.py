"""A trip's UTC day, time-of-day bucket and ISO week, derived in SQL from its `datetime`.

`trips` does not store them (three fewer columns for every COPYed row); the ingestion
computes the same values with Arrow (`parse._enrich`) for bronze and the rollups, and
`fleetlake trips verify` derives them here to check the rollups against `trips`.
SQLite stores naive UTC text ('YYYY-MM-DD HH:MM:SS…') and, before 3.46, has no %G/%V:
the ISO week is that of the week's Thursday.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

Column = sa.ColumnElement[Any]


def utc_day(column: Column, *, dialect: str) -> Column:
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


def time_bucket(column: Column, *, minutes: int, dialect: str) -> Column:
    """Minutes since UTC midnight // `minutes` (a trusted integer from settings)."""
    if dialect == "postgresql":
        utc = sa.func.timezone("UTC", column)
        hour, minute = (sa.cast(sa.extract(part, utc), sa.Integer) for part in ("hour", "minute"))
        return sa.cast((hour * 60 + minute) // minutes, sa.SmallInteger)
    minute_of_day = _strftime_int("%H", column) * 60 + _strftime_int("%M", column)
    return sa.cast(minute_of_day // minutes, sa.SmallInteger)


def iso_year_week(column: Column, *, dialect: str) -> tuple[Column, Column]:
    if dialect == "postgresql":
        utc = sa.func.timezone("UTC", column)
        return (
            sa.cast(sa.extract("isoyear", utc), sa.SmallInteger),
            sa.cast(sa.extract("week", utc), sa.SmallInteger),
        )
    monday_based = (_strftime_int("%w", column) + 6) % 7  # Monday 0 … Sunday 6
    thursday = sa.func.date(column, sa.func.printf("%+d days", 3 - monday_based))
    day_of_year = _strftime_int("%j", thursday)
    return (
        sa.cast(_strftime_int("%Y", thursday), sa.SmallInteger),
        sa.cast((day_of_year - 1) // 7 + 1, sa.SmallInteger),
    )


def _strftime_int(pattern: str, column: Column) -> Column:
    return sa.cast(sa.func.strftime(pattern, column), sa.Integer)
