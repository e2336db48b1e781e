"""Sensor monitoring tables: the model (platforms → templates → sensors), the detector's
per-sensor state, deviations as intervals, and events with their operators' actions. The
readings themselves live in the lake."""

from __future__ import annotations

import sqlalchemy as sa

from fleetlake.platform.db import UtcDateTime, metadata
from fleetlake.platform.tables import BigId

monitoring_platforms = sa.Table(
    "monitoring_platforms",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("description", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

monitoring_templates = sa.Table(
    "monitoring_templates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("platform_id", sa.Integer, sa.ForeignKey("monitoring_platforms.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("internal_volume_m3", sa.Float, nullable=False),
    sa.Column("length_m", sa.Float, nullable=False),
    sa.Column("width_m", sa.Float, nullable=False),
    sa.Column("height_m", sa.Float, nullable=False),
    sa.Column("angle_from_north_deg", sa.Float, nullable=False),
    # One value, or one per face (as the system replaced stored them): JSON lists.
    sa.Column("porosity", sa.JSON, nullable=False),
    sa.Column("wall_area_m2", sa.JSON, nullable=False),
    sa.Column("inclination_deg", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("platform_id", "name", name="uq_monitoring_templates_platform_name"),
)

monitoring_sensors = sa.Table(
    "monitoring_sensors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("template_id", sa.Integer, sa.ForeignKey("monitoring_templates.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    # The name a source knows it by (an MQTT topic's last part, an Omnia timeseries id).
    sa.Column("source_id", sa.String(200), unique=True),
    sa.Column("x_m", sa.Float, nullable=False),
    sa.Column("y_m", sa.Float, nullable=False),
    sa.Column("z_m", sa.Float, nullable=False),
    sa.Column("baseline_start", UtcDateTime),
    sa.Column("baseline_end", UtcDateTime),
    # The newest reading landed: a later batch's older readings are out of order.
    sa.Column("last_reading_at", UtcDateTime),
    sa.Column("readings", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("template_id", "name", name="uq_monitoring_sensors_template_name"),
)

# What the streaming detector needs to go on after a restart: its last window and level.
monitoring_detector_state = sa.Table(
    "monitoring_detector_state",
    metadata,
    sa.Column("sensor_id", sa.Integer, sa.ForeignKey("monitoring_sensors.id"), primary_key=True),
    sa.Column("scored_until", UtcDateTime, nullable=False),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

monitoring_deviations = sa.Table(
    "monitoring_deviations",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("sensor_id", sa.Integer, sa.ForeignKey("monitoring_sensors.id"), nullable=False),
    sa.Column("start", UtcDateTime, nullable=False),
    sa.Column("end", UtcDateTime, nullable=False),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Index("ix_monitoring_deviations_sensor_start", "sensor_id", "start"),
)

monitoring_events = sa.Table(
    "monitoring_events",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("template_id", sa.Integer, sa.ForeignKey("monitoring_templates.id"), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("sensors", sa.JSON, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("leak", sa.JSON),
    sa.Column("state", sa.String(16), nullable=False, server_default="open"),
    sa.Index("ix_monitoring_events_template_at", "template_id", "at"),
)

# The operators' workflow on an event: acknowledge, resolve, comment — and who did it.
monitoring_event_actions = sa.Table(
    "monitoring_event_actions",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("event_id", BigId, sa.ForeignKey("monitoring_events.id"), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("by", sa.String(100), nullable=False),
    sa.Column("text", sa.Text),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_monitoring_event_actions_event", "event_id"),
)
