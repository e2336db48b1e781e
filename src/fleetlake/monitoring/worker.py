"""`fleetlake monitoring detect`: every sensor with unscored readings scored, then each
template it belongs to re-levelled, in rounds until stopped; and monitoring's part of
`fleetlake worker` (`MonitoringWorker`)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fleetlake.monitoring.alarms import templates_of, update_template
from fleetlake.monitoring.detection import score_sensors
from fleetlake.monitoring.settings import MonitoringSettings
from fleetlake.monitoring.tables import monitoring_detector_state, monitoring_sensors
from fleetlake.platform.lake import Lake
from fleetlake.settings import Settings

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
    scored = score_sensors(engine, lake, sensor_ids=behind(engine), settings=settings)
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


class MonitoringWorker:
    """What `fleetlake worker` runs for monitoring: the sources file's MQTT subscriptions,
    its Omnia-shaped polls (each a job), detection rounds and silver's compaction."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        from fleetlake.monitoring.sources_config import load_monitoring_sources

        self.engine, self.settings = engine, settings
        self.lake = Lake(settings.resolved_lake_uri)
        self.sources = load_monitoring_sources(settings.resolved_sources_file, missing_ok=True)
        self.subscriptions: list[Any] = []
        self.jobs: list[dict[str, Any]] = []

    def run(self, stop: threading.Event, *, tick_s: float = 1.0) -> None:
        from fleetlake.monitoring.compaction import compact_silver

        self._subscribe()
        section = self.settings.monitoring
        due = {"detect": 0.0, "compact": 0.0} | {f"poll:{s.name}": 0.0 for s in self.sources.omnia}
        try:
            while not stop.is_set():
                now = time.monotonic()
                for source in self.sources.omnia:
                    if now >= due[f"poll:{source.name}"]:
                        self._poll(source.name)
                        due[f"poll:{source.name}"] = now + source.every_s
                if now >= due["compact"]:
                    _logged("compaction", lambda: compact_silver(self.lake, today=_today()))
                    due["compact"] = now + section.compact_every_s
                if now >= due["detect"]:
                    _logged("detection", lambda: detect_round(self.engine, self.lake,
                                                              settings=section))  # fmt: skip
                    due["detect"] = now + section.detect_every_s
                stop.wait(tick_s)
        finally:
            for subscription in self.subscriptions:
                subscription.stop()

    def _subscribe(self) -> None:
        from fleetlake.monitoring.mqtt import ReadingsSubscription

        for source in self.sources.mqtt:
            subscription = ReadingsSubscription(
                source.url, list(source.topics), engine=self.engine, lake=self.lake,
                client_id=source.client_id or f"fleetlake-monitoring-{source.name}",
                land_every_s=self.settings.monitoring.land_every_s,
            )  # fmt: skip
            subscription.start()
            self.subscriptions.append(subscription)
            log.info("subscribed %s to %s", source.name, ", ".join(source.topics))

    def _poll(self, name: str) -> None:
        from fleetlake.monitoring.poll_job import queue_poll
        from fleetlake.platform.jobs import run_job

        job_id = queue_poll(self.engine, source=name, settings=self.settings)
        summary = run_job(self.engine, job_id=job_id, logs_dir=self.settings.logs_dir,
                          nice=self.settings.job_nice)  # fmt: skip
        self.jobs.append(summary)
        if summary["state"] != "succeeded":
            log.warning("poll %s (job %s) %s: %s", name, job_id, summary["state"],
                        summary["error"])  # fmt: skip


def _logged(what: str, call: Any) -> None:
    try:
        found = call()
        log.debug("%s: %s", what, found)
    except Exception:  # a bad round is logged; the next one tries again
        log.exception("%s failed", what)


def _today() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC).date()
