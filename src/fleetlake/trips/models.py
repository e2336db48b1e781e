"""Trips tables in the serving database."""

from __future__ import annotations

import sqlalchemy as sa

from fleetlake.platform.db import UtcDateTime, metadata
from fleetlake.platform.tables import BigId

trip_files = sa.Table(
    "trip_files",
    metadata,
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
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="SET NULL")),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("published_at", UtcDateTime),
)

trips = sa.Table(
    "trips",
    metadata,
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
    # Time bucket and ISO week are not stored: derived from `datetime` (trips/calendar_sql).
    # No foreign key and no index: each costs every bulk-loaded row (see migration 0004).
    sa.Column("file_id", sa.Integer, nullable=False),
    sa.Column("line", sa.BigInteger, nullable=False),
)

trip_quarantine = sa.Table(
    "trip_quarantine",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="SET NULL")),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("trip_files.id")),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("line", sa.BigInteger),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_trip_quarantine_job_id", "job_id"),
    sa.Index("ix_trip_quarantine_file_id", "file_id"),
)

# Rollups, maintained when a file is published (all its chunks committed); see docs/scalability.md.
trip_day_counts = sa.Table(
    "trip_day_counts",
    metadata,
    sa.Column("region", sa.Text, primary_key=True),
    sa.Column("datasource", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("trips", sa.BigInteger, nullable=False),
)

trip_groups = sa.Table(
    "trip_groups",
    metadata,
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
    sa.Index("ix_trip_groups_region_trips", "region", "trips"),
)

trip_cell_weeks = sa.Table(
    "trip_cell_weeks",
    metadata,
    sa.Column("endpoint", sa.String(1), primary_key=True),
    sa.Column("resolution", sa.SmallInteger, primary_key=True),
    sa.Column("cell", sa.BigInteger, primary_key=True),
    sa.Column("iso_year", sa.SmallInteger, primary_key=True),
    sa.Column("iso_week", sa.SmallInteger, primary_key=True),
    sa.Column("trips", sa.BigInteger, nullable=False),
)

trip_pair_weeks = sa.Table(
    "trip_pair_weeks",
    metadata,
    sa.Column("resolution", sa.SmallInteger, primary_key=True),
    sa.Column("origin_cell", sa.BigInteger, primary_key=True),
    sa.Column("destination_cell", sa.BigInteger, primary_key=True),
    sa.Column("iso_year", sa.SmallInteger, primary_key=True),
    sa.Column("iso_week", sa.SmallInteger, primary_key=True),
    sa.Column("trips", sa.BigInteger, nullable=False),
)
