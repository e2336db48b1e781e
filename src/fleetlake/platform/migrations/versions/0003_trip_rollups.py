"""Trips at scale: rollups instead of per-row indexes; endpoint cells at h3 resolution 9.

Revision ID: 0003
Revises: 0002

Trips loaded before this revision carried resolution-7 cells; their cells are recomputed
and their files left unpublished, so `fleetlake trips verify --repair` rebuilds their rollups.
"""

import sqlalchemy as sa
from alembic import op

from fleetlake.platform.db import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FINE = 9


def upgrade() -> None:
    for name in (
        "region_datetime",
        "datetime",
        "origin_lon_origin_lat",
        "destination_lon_destination_lat",
        "group",
    ):
        op.drop_index(f"ix_trips_{name}", "trips")
    op.add_column("trip_files", sa.Column("published_at", UtcDateTime))
    # A per-row foreign-key check more than halved COPY speed; trip_files rows are never deleted.
    with op.batch_alter_table("trips") as batch:
        batch.drop_constraint("fk_trips_file_id_trip_files", type_="foreignkey")
    _recompute_cells()
    op.create_table(
        "trip_day_counts",
        sa.Column("region", sa.Text, primary_key=True),
        sa.Column("datasource", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("trips", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "trip_groups",
        sa.Column("region", sa.Text, primary_key=True),
        sa.Column("origin_cell", sa.BigInteger, primary_key=True),
        sa.Column("destination_cell", sa.BigInteger, primary_key=True),
        sa.Column("time_bucket", sa.SmallInteger, primary_key=True),
        sa.Column("trips", sa.BigInteger, nullable=False),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        sa.Column("origin_lon_sum", sa.Float, nullable=False),
        sa.Column("origin_lat_sum", sa.Float, nullable=False),
        sa.Column("destination_lon_sum", sa.Float, nullable=False),
        sa.Column("destination_lat_sum", sa.Float, nullable=False),
    )
    op.create_index("ix_trip_groups_region_trips", "trip_groups", ["region", "trips"])
    op.create_table(
        "trip_cell_weeks",
        sa.Column("endpoint", sa.String(1), primary_key=True),
        sa.Column("resolution", sa.SmallInteger, primary_key=True),
        sa.Column("cell", sa.BigInteger, primary_key=True),
        sa.Column("iso_year", sa.SmallInteger, primary_key=True),
        sa.Column("iso_week", sa.SmallInteger, primary_key=True),
        sa.Column("trips", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "trip_pair_weeks",
        sa.Column("resolution", sa.SmallInteger, primary_key=True),
        sa.Column("origin_cell", sa.BigInteger, primary_key=True),
        sa.Column("destination_cell", sa.BigInteger, primary_key=True),
        sa.Column("iso_year", sa.SmallInteger, primary_key=True),
        sa.Column("iso_week", sa.SmallInteger, primary_key=True),
        sa.Column("trips", sa.BigInteger, nullable=False),
    )


def _recompute_cells() -> None:
    """Resolution-9 cells for rows loaded with resolution-7 ones (batched by id)."""
    import h3

    connection = op.get_bind()
    trips = sa.table(
        "trips",
        sa.column("id"),
        sa.column("origin_lon"),
        sa.column("origin_lat"),
        sa.column("destination_lon"),
        sa.column("destination_lat"),
        sa.column("origin_cell"),
        sa.column("destination_cell"),
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(
                trips.c.id,
                trips.c.origin_lat,
                trips.c.origin_lon,
                trips.c.destination_lat,
                trips.c.destination_lon,
            )
            .where(trips.c.id > last)
            .order_by(trips.c.id)
            .limit(50_000)
        ).all()
        if not rows:
            return
        connection.execute(
            trips.update()
            .where(trips.c.id == sa.bindparam("row_id"))
            .values(origin_cell=sa.bindparam("o"), destination_cell=sa.bindparam("d")),
            [
                {
                    "row_id": r[0],
                    "o": h3.str_to_int(h3.latlng_to_cell(r[1], r[2], FINE)),
                    "d": h3.str_to_int(h3.latlng_to_cell(r[3], r[4], FINE)),
                }
                for r in rows
            ],
        )
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("trips") as batch:
        batch.create_foreign_key("fk_trips_file_id_trip_files", "trip_files", ["file_id"], ["id"])
    for name in ("trip_pair_weeks", "trip_cell_weeks", "trip_groups", "trip_day_counts"):
        op.drop_table(name)
    op.drop_column("trip_files", "published_at")
    op.create_index("ix_trips_region_datetime", "trips", ["region", "datetime"])
    op.create_index("ix_trips_datetime", "trips", ["datetime"])
    op.create_index("ix_trips_origin_lon_origin_lat", "trips", ["origin_lon", "origin_lat"])
    op.create_index(
        "ix_trips_destination_lon_destination_lat", "trips", ["destination_lon", "destination_lat"]
    )
    op.create_index("ix_trips_group", "trips", ["origin_cell", "destination_cell", "time_bucket"])
