"""Platform tables: durable jobs, their append-only events (and named streams'), webhooks
and delivery attempts."""

from __future__ import annotations

import sqlalchemy as sa

from fleetlake.platform.db import UtcDateTime, metadata

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("heartbeat_at", UtcDateTime),
    sa.Column("worker_host", sa.String(255)),
    sa.Column("worker_pid", sa.Integer),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("rows_done", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_total", sa.BigInteger),
    sa.Column("bytes_done", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("bytes_total", sa.BigInteger),
    sa.Column("current_source", sa.Text),
    sa.Column("results", sa.JSON, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("retry_of", sa.Integer, sa.ForeignKey("jobs.id")),
    sa.Index("ix_jobs_kind_state", "kind", "state"),
)

job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    # A job's event, or (job_id NULL) one of a named stream's: see platform/jobs.append_stream_event
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE")),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("stream", sa.String(40)),
    sa.Index("ix_job_events_job_id_id", "job_id", "id"),
    sa.Index("ix_job_events_stream_id", "stream", "id"),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("event_types", sa.JSON),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column(
        "webhook_id", sa.Integer, sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column(
        "event_id",
        sa.BigInteger,
        sa.ForeignKey("job_events.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Float),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_webhook_deliveries_webhook_id_event_id", "webhook_id", "event_id"),
)
