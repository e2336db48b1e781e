"""Trips: the unique constraint on trip_files.sha256 under the name the code declares
(PostgreSQL had named it trip_files_sha256_key; SQLite keeps no names).

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE trip_files RENAME CONSTRAINT trip_files_sha256_key "
                   "TO uq_trip_files_sha256")  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE trip_files RENAME CONSTRAINT uq_trip_files_sha256 "
                   "TO trip_files_sha256_key")  # fmt: skip
