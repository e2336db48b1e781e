"""Platform: jobs, job events, webhooks, webhook delivery attempts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from fleetlake.platform.db import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "jobs",
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
        sa.Column("retry_of", sa.Integer, sa.ForeignKey("jobs.id", name="fk_jobs_retry_of_jobs")),
    )
    op.create_index("ix_jobs_kind_state", "jobs", ["kind", "state"])
    op.create_table(
        "job_events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "job_id",
            sa.Integer,
            sa.ForeignKey("jobs.id", ondelete="CASCADE", name="fk_job_events_job_id_jobs"),
            nullable=False,
        ),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_job_events_job_id_id", "job_events", ["job_id", "id"])
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("event_types", sa.JSON),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "webhook_id",
            sa.Integer,
            sa.ForeignKey(
                "webhooks.id", ondelete="CASCADE", name="fk_webhook_deliveries_webhook_id_webhooks"
            ),
            nullable=False,
        ),
        sa.Column(
            "event_id",
            sa.BigInteger,
            sa.ForeignKey(
                "job_events.id",
                ondelete="CASCADE",
                name="fk_webhook_deliveries_event_id_job_events",
            ),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Float),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_id_event_id",
        "webhook_deliveries",
        ["webhook_id", "event_id"],
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    op.drop_table("job_events")
    op.drop_table("jobs")
