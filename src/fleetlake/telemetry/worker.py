"""`fleetlake worker`: the configured sources run continuously, the pipeline on an interval,
the compaction after each UTC midnight — every run a job (events, log) in the database."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from fleetlake.platform.jobs import run_job
from fleetlake.settings import Settings
from fleetlake.telemetry.bronze import BronzeBuffers
from fleetlake.telemetry.mqtt import MqttSubscription
from fleetlake.telemetry.poll_job import queue_poll
from fleetlake.telemetry.providers import adapter_for
from fleetlake.telemetry.service import queue_compaction
from fleetlake.telemetry.sources_config import load_sources

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.engine, self.settings, self.today = engine, settings, today
        self.config = load_sources(settings.resolved_sources_file)
        self.jobs: list[dict[str, Any]] = []  # summaries of the runs, newest last
        self.subscriptions: list[MqttSubscription] = []

    def run(self, stop: threading.Event, *, tick_s: float = 1.0) -> None:
        """Until `stop` is set; subscriptions are flushed (and acknowledged) on the way out."""
        self._subscribe()
        next_poll = {source.http.name: 0.0 for source in self.config.http}
        next_pipeline, compacted_on = 0.0, None
        try:
            while not stop.is_set():
                now = time.monotonic()
                for source in self.config.http:
                    if now >= next_poll[source.http.name]:
                        self._job(
                            queue_poll(self.engine, source=source.http.name, settings=self.settings)
                        )
                        next_poll[source.http.name] = now + source.every_s
                if compacted_on != self.today():  # at start, and after each midnight (UTC)
                    self._job(queue_compaction(self.engine, day=None))
                    compacted_on = self.today()
                if now >= next_pipeline:
                    from fleetlake.telemetry.pipeline import queue_pipeline

                    self._job(queue_pipeline(self.engine, stages=None, full_refresh=False))
                    next_pipeline = now + self.settings.telemetry.pipeline_every_s
                stop.wait(tick_s)
        finally:
            for subscription in self.subscriptions:
                subscription.stop()

    def _subscribe(self) -> None:
        for source in self.config.mqtt:
            buffers = BronzeBuffers.from_settings(self.settings)
            subscription = MqttSubscription(
                source.url, list(source.topics), adapter=adapter_for(source.provider),
                buffers=buffers, client_id=source.client_id or f"fleetlake-{source.name}",
            )  # fmt: skip
            subscription.start()
            self.subscriptions.append(subscription)
            log.info("subscribed %s to %s", source.name, ", ".join(source.topics))

    def _job(self, job_id: int) -> None:
        summary = run_job(
            self.engine, job_id=job_id, logs_dir=self.settings.logs_dir, nice=self.settings.job_nice
        )
        self.jobs.append(summary)
        if summary["state"] != "succeeded":
            log.warning(
                "job %s (%s) %s: %s", job_id, summary["kind"], summary["state"], summary["error"]
            )
