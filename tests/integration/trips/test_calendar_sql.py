"""The UTC day, time bucket and ISO week derived in SQL equal Python's, on both dialects
(the ISO year differs from the calendar year around New Year; SQLite has no %G/%V)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetlake.platform.db import UtcDateTime
from fleetlake.trips import calendar_sql

moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)
).map(lambda moment: moment.replace(microsecond=0, tzinfo=UTC))
# Every day from 28 December to 4 January, where ISO and calendar years part.
new_years = st.builds(
    lambda year, day, second: (
        datetime(year, 12, 28, tzinfo=UTC) + timedelta(days=day, seconds=second)
    ),
    st.integers(1971, 2098),
    st.integers(0, 7),
    st.integers(0, 86_399),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(st.one_of(moments, new_years), min_size=1, max_size=40),
    minutes=st.sampled_from([1, 7, 15, 60, 90, 1440]),
)
def test_derived_calendar_equals_python(
    engine: sa.Engine, values: list[datetime], minutes: int
) -> None:
    table = sa.Table("moments", sa.MetaData(), sa.Column("datetime", UtcDateTime))
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        connection.execute(table.insert(), [{"datetime": v} for v in values])
        dialect = connection.dialect.name
        year, week = calendar_sql.iso_year_week(table.c.datetime, dialect=dialect)
        query = sa.select(
            table.c.datetime,
            calendar_sql.utc_day(table.c.datetime, dialect=dialect),
            calendar_sql.time_bucket(table.c.datetime, minutes=minutes, dialect=dialect),
            year,
            week,
        )
        rows = connection.execute(query).all()
        table.drop(connection)
    found = sorted((moment, str(day), bucket, y, w) for moment, day, bucket, y, w in rows)
    expected = sorted(
        (
            v,
            v.date().isoformat(),
            (v.hour * 60 + v.minute) // minutes,
            v.isocalendar().year,
            v.isocalendar().week,
        )
        for v in values
    )
    assert found == expected
