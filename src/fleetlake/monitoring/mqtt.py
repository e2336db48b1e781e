"""Readings by MQTT, one topic per sensor, landed at-least-once.

The topic's last level names the sensor (its id or `source_id`): `gas/<sensor>` under a
filter such as `gas/+`. A payload is `{"ts": …, "ppmv": …}`, a JSON array of those, or a
bare number read at the time it arrived. Messages are held for `land_every_s`, landed as one
batch (`landing.land_readings`: bronze, silver, quarantine) and only then acknowledged, so a
process that dies first gets them again from the broker's persistent session; readings
already landed come back as repeats and go to the quarantine, never twice into silver.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from fleetlake.monitoring.landing import land_readings
from fleetlake.monitoring.readings import Received, Refused
from fleetlake.platform.lake import Lake
from fleetlake.platform.mqtt_wire import BrokerAddress, MqttSession
from fleetlake.platform.mqtt_wire import Received as Message

log = logging.getLogger(__name__)
SESSION_EXPIRY_S = 7 * 24 * 3600  # unacknowledged readings wait this long for us


def records_of(messages: list[Message], *, received_at: datetime) -> Iterator[Received | Refused]:
    """Each message's readings; `line` is the message's place in the batch."""
    for line, message in enumerate(messages, start=1):
        sensor = message.topic.rsplit("/", 1)[-1]
        text = message.payload[:10_000].decode("utf-8", errors="replace")
        try:
            value: Any = json.loads(message.payload)
        except ValueError as exc:
            yield Refused(line, f"{message.topic} {text}", f"not JSON: {exc}")
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                yield Received(line, item.get("sensor", sensor), item.get("ts"), item.get("ppmv"))
            elif isinstance(item, int | float) and not isinstance(item, bool):
                yield Received(line, sensor, received_at, item)
            else:
                reason = 'not a reading: send {"ts": …, "ppmv": …}, a list of them, or a number'
                yield Refused(line, f"{message.topic} {text}", reason)


class ReadingsSubscription:
    """Subscribe, hold, land, acknowledge. `start()` returns once subscribed."""

    def __init__(
        self, url: str, topics: list[str], *, engine: Engine, lake: Lake, client_id: str,
        land_every_s: float = 1.0,
    ) -> None:  # fmt: skip
        address = BrokerAddress.parse(url)
        self.engine, self.lake, self.land_every_s = engine, lake, land_every_s
        self.source = f"mqtt:{','.join(topics)}"
        self.received = self.landed = self.quarantined = 0
        self._inbox: list[Message] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._lander = threading.Thread(target=self._land_loop, name="mqtt-land", daemon=True)
        self.session = MqttSession(
            host=address.host, port=address.port, tls=address.tls, client_id=client_id,
            topics=topics, on_messages=self._on_messages, username=address.username,
            password=address.password, session_expiry_s=SESSION_EXPIRY_S,
        )  # fmt: skip

    def start(self, *, timeout_s: float = 10.0) -> None:
        self.session.start(timeout_s=timeout_s)
        self._lander.start()

    def stop(self) -> None:
        """Land what is held (so it is acknowledged), then disconnect."""
        self._stopping.set()
        if self._lander.is_alive():
            self._lander.join()
        self.land_held()
        self.session.close()

    def _on_messages(self, batch: list[Message]) -> None:
        with self._lock:
            self._inbox.extend(batch)
            self.received += len(batch)

    def _land_loop(self) -> None:
        while not self._stopping.wait(self.land_every_s):
            try:
                self.land_held()
            except Exception:  # unacknowledged, so redelivered on reconnect; the loop lives on
                log.exception("landing a batch of MQTT readings failed")

    def land_held(self) -> None:
        with self._lock:
            batch, self._inbox = self._inbox, []
        if not batch:
            return
        now = datetime.now(UTC)
        try:
            result = land_readings(self.engine, self.lake, records_of(batch, received_at=now),
                                   source=self.source, now=now)  # fmt: skip
        except Exception:
            with self._lock:  # kept for the next try, in order
                self._inbox[:0] = batch
            raise
        self.session.ack(batch)
        self.landed += result["rows_loaded"]
        self.quarantined += result["rows_quarantined"]
