"""`fleetlake monitoring detect`: every sensor with unscored readings scored, then each
template it belongs to re-levelled, in rounds until stopped."""

from __future__ import annotations

import logging
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fleetlake.monitoring.alarms import templates_of, update_template
from fleetlake.monitoring.detection import score_sensor
from fleetlake.monitoring.settings import MonitoringSettings
from fleetlake.monitoring.tables import monitoring_detector_state, monitoring_sensors
from fleetlake.platform.lake import Lake

log = logging.getLogger(__name__)


def behind(engine: Engine) -> list[int]:
    """Sensors whose newest reading is newer than what was scored (or never scored)."""
    s, d = monitoring_sensors, monitoring_detector_state
    query = (sa.select(s.c.id).select_from(s.outerjoin(d, d.c.sensor_id == s.c.id))
             .where(s.c.last_reading_at.is_not(None))
             .where(sa.or_(d.c.scored_until.is_(None), s.c.last_reading_at > d.c.scored_until))
             .order_by(s.c.id))  # fmt: skip
    with engine.connect() as connection:
        return list(connection.execute(query).scalars().all())


def detect_round(engine: Engine, lake: Lake, *, settings: MonitoringSettings) -> dict[str, Any]:
    """One round: what was scored and the events it raised."""
    scored = []
    for sensor_id in behind(engine):
        found = score_sensor(engine, lake, sensor_id=sensor_id, settings=settings)
        if found is not None:
            scored.append(found)
    with engine.connect() as connection:
        templates = templates_of(connection, [s.sensor_id for s in scored])
    events = []
    for template_id in templates:
        event = update_template(engine, lake, template_id=template_id, settings=settings)
        if event is not None:
            events.append(event)
    return {"sensors": len(scored), "readings": sum(s.readings for s in scored), "events": events}


def run_detector(
    engine: Engine, lake: Lake, *, settings: MonitoringSettings, every_s: float,
    stop: threading.Event,
) -> None:  # fmt: skip
    while not stop.is_set():
        try:
            found = detect_round(engine, lake, settings=settings)
            if found["readings"]:
                log.info("scored %d readings of %d sensors, %d events", found["readings"],
                         found["sensors"], len(found["events"]))  # fmt: skip
        except Exception:  # a bad round is logged; the next one tries again
            log.exception("detection round failed")
        stop.wait(every_s)
