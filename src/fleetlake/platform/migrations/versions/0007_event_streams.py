"""Event streams: an event belongs to a job or to a named stream (a domain's own news, such as
the charging lot's `vehicle.ready`), so both share the pushes and the webhooks.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # the table is rebuilt, and dropping the old one cascades to its deliveries
        op.execute("CREATE TABLE _deliveries_kept AS SELECT * FROM webhook_deliveries")
    with op.batch_alter_table("job_events") as batch:
        batch.alter_column("job_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("stream", sa.String(40)))
    if sqlite:
        op.execute("DELETE FROM webhook_deliveries")
        op.execute("INSERT INTO webhook_deliveries SELECT * FROM _deliveries_kept")
        op.execute("DROP TABLE _deliveries_kept")
    op.create_index("ix_job_events_stream_id", "job_events", ["stream", "id"])


def downgrade() -> None:
    op.drop_index("ix_job_events_stream_id", "job_events")
    op.execute("DELETE FROM job_events WHERE job_id IS NULL")
    with op.batch_alter_table("job_events") as batch:
        batch.drop_column("stream")
        batch.alter_column("job_id", existing_type=sa.Integer(), nullable=False)
