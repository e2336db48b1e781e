"""Sensor monitoring: platforms, templates, sensors, the detector's state, deviations as
intervals, events and the operators' actions on them.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from fleetlake.platform.db import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "monitoring_platforms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_monitoring_platforms_name"),
    )
    op.create_table(
        "monitoring_templates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "platform_id", sa.Integer, sa.ForeignKey("monitoring_platforms.id"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        *[
            sa.Column(name, sa.Float, nullable=False)
            for name in (
                "internal_volume_m3",
                "length_m",
                "width_m",
                "height_m",
                "angle_from_north_deg",
            )
        ],
        *[
            sa.Column(name, sa.JSON, nullable=False)
            for name in ("porosity", "wall_area_m2", "inclination_deg")
        ],
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("platform_id", "name", name="uq_monitoring_templates_platform_name"),
    )
    op.create_table(
        "monitoring_sensors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "template_id", sa.Integer, sa.ForeignKey("monitoring_templates.id"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("source_id", sa.String(200)),
        *[sa.Column(name, sa.Float, nullable=False) for name in ("x_m", "y_m", "z_m")],
        sa.Column("baseline_start", UtcDateTime),
        sa.Column("baseline_end", UtcDateTime),
        sa.Column("last_reading_at", UtcDateTime),
        sa.Column("readings", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("template_id", "name", name="uq_monitoring_sensors_template_name"),
        sa.UniqueConstraint("source_id", name="uq_monitoring_sensors_source_id"),
    )
    op.create_table(
        "monitoring_detector_state",
        sa.Column(
            "sensor_id", sa.Integer, sa.ForeignKey("monitoring_sensors.id"), primary_key=True
        ),
        sa.Column("scored_until", UtcDateTime, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "monitoring_deviations",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("sensor_id", sa.Integer, sa.ForeignKey("monitoring_sensors.id"), nullable=False),
        sa.Column("start", UtcDateTime, nullable=False),
        sa.Column("end", UtcDateTime, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_monitoring_deviations_sensor_start", "monitoring_deviations", ["sensor_id", "start"]
    )
    op.create_table(
        "monitoring_events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "template_id", sa.Integer, sa.ForeignKey("monitoring_templates.id"), nullable=False
        ),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("sensors", sa.JSON, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("leak", sa.JSON),
        sa.Column("state", sa.String(16), nullable=False, server_default="open"),
    )
    op.create_index("ix_monitoring_events_template_at", "monitoring_events", ["template_id", "at"])
    op.create_table(
        "monitoring_event_actions",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("event_id", BigId, sa.ForeignKey("monitoring_events.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_monitoring_event_actions_event", "monitoring_event_actions", ["event_id"])


def downgrade() -> None:
    for name in (
        "monitoring_event_actions",
        "monitoring_events",
        "monitoring_deviations",
        "monitoring_detector_state",
        "monitoring_sensors",
        "monitoring_templates",
        "monitoring_platforms",
    ):
        op.drop_table(name)
