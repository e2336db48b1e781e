"""The migrations build exactly what the code's tables declare, on both databases."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext


def test_the_migrated_schema_is_the_declared_one(engine: sa.Engine) -> None:
    import fleetlake.domains
    from fleetlake.platform.db import metadata

    fleetlake.domains.register_job_kinds()  # every domain's tables on the metadata

    with engine.connect() as connection:
        found = compare_metadata(MigrationContext.configure(connection), metadata)
        inspector = sa.inspect(connection)
        assert [d for d in found if not unnamed_unique_on_sqlite(d, inspector)] == []


def unnamed_unique_on_sqlite(difference: Any, inspector: Any) -> bool:
    """SQLite keeps no name for a unique constraint declared on a column: the same columns
    unique in the database is a match."""
    if inspector.dialect.name != "sqlite" or not isinstance(difference, tuple):
        return False
    kind, constraint = difference[0], difference[1]
    if kind != "add_constraint" or not isinstance(constraint, sa.UniqueConstraint):
        return False
    columns = [c.name for c in constraint.columns]
    held = inspector.get_unique_constraints(constraint.table.name)
    return any(u["column_names"] == columns for u in held)
