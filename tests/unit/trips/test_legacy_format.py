"""PostgreSQL's `AVG(bigint)::varchar` printing, reproduced for the compatibility API."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlake.trips.legacy import pg_numeric_avg
from tests.conftest import PG_URL, postgres_available, require_service


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [
        (38, 5, "7.6000000000000000"),  # the original contract's sample values
        (28, 5, "5.6000000000000000"),
        (34, 5, "6.8000000000000000"),
        (3, 5, "0.60000000000000000000"),
        (1, 3, "0.33333333333333333333"),
        (2, 3, "0.66666666666666666667"),
        (123456, 1, "123456.000000000000"),
    ],
)
def test_known_values(total: int, count: int, expected: str) -> None:
    assert pg_numeric_avg(total, count) == expected


@pytest.mark.services
@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 2_000_000), min_size=1, max_size=20))
def test_matches_postgresql(values: list[int]) -> None:
    problem = postgres_available()
    if problem:
        require_service("PostgreSQL", problem)
    engine = sa.create_engine(PG_URL)
    with engine.connect() as connection:
        expected = connection.execute(
            sa.text("SELECT AVG(v)::varchar FROM unnest(CAST(:values AS bigint[])) AS v"),
            {"values": values},
        ).scalar_one()
    engine.dispose()
    assert pg_numeric_avg(sum(values), len(values)) == expected
