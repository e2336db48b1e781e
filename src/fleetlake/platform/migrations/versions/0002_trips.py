"""Trips: ingested files, trips, quarantine.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from fleetlake.platform.db import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "trip_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("next_offset", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("next_line", sa.BigInteger, nullable=False, server_default="2"),
        sa.Column("rows_loaded", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("rows_quarantined", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column(
            "job_id",
            sa.Integer,
            sa.ForeignKey("jobs.id", ondelete="SET NULL", name="fk_trip_files_job_id_jobs"),
        ),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime),
    )
    op.create_table(
        "trips",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("region", sa.Text, nullable=False),
        sa.Column("origin_lon", sa.Float, nullable=False),
        sa.Column("origin_lat", sa.Float, nullable=False),
        sa.Column("destination_lon", sa.Float, nullable=False),
        sa.Column("destination_lat", sa.Float, nullable=False),
        sa.Column("datetime", UtcDateTime, nullable=False),
        sa.Column("datasource", sa.Text, nullable=False),
        sa.Column("origin_cell", sa.BigInteger, nullable=False),
        sa.Column("destination_cell", sa.BigInteger, nullable=False),
        sa.Column("time_bucket", sa.SmallInteger, nullable=False),
        sa.Column("iso_year", sa.SmallInteger, nullable=False),
        sa.Column("iso_week", sa.SmallInteger, nullable=False),
        sa.Column(
            "file_id",
            sa.Integer,
            sa.ForeignKey("trip_files.id", name="fk_trips_file_id_trip_files"),
            nullable=False,
        ),
        sa.Column("line", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_trips_region_datetime", "trips", ["region", "datetime"])
    op.create_index("ix_trips_datetime", "trips", ["datetime"])
    op.create_index("ix_trips_origin_lon_origin_lat", "trips", ["origin_lon", "origin_lat"])
    op.create_index(
        "ix_trips_destination_lon_destination_lat", "trips", ["destination_lon", "destination_lat"]
    )
    op.create_index("ix_trips_group", "trips", ["origin_cell", "destination_cell", "time_bucket"])
    op.create_index("ix_trips_file_id", "trips", ["file_id"])
    op.create_table(
        "trip_quarantine",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "job_id",
            sa.Integer,
            sa.ForeignKey("jobs.id", ondelete="SET NULL", name="fk_trip_quarantine_job_id_jobs"),
        ),
        sa.Column(
            "file_id",
            sa.Integer,
            sa.ForeignKey("trip_files.id", name="fk_trip_quarantine_file_id_trip_files"),
        ),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("line", sa.BigInteger),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_trip_quarantine_job_id", "trip_quarantine", ["job_id"])
    op.create_index("ix_trip_quarantine_file_id", "trip_quarantine", ["file_id"])


def downgrade() -> None:
    op.drop_table("trip_quarantine")
    op.drop_table("trips")
    op.drop_table("trip_files")
