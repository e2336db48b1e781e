"""The lot's pushed news: `vehicle.ready` at each car's ready time, `vehicle.plan_changed` when a
replan moves a ready time, `vehicle.departed` when a car leaves — one stream, `charging`, on
the platform's events (SSE, WebSocket, signed webhooks).

The clock sleeps until the next ready time (woken early by every replan) and claims the cars
then due with one conditional UPDATE, so with several server processes each car's
`vehicle.ready` is sent exactly once.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fleetlake.charging.plan import hold_lot
from fleetlake.charging.tables import charging_sessions
from fleetlake.platform.jobs import append_stream_event

log = logging.getLogger(__name__)
STREAM = "charging"
TYPES = ("vehicle.ready", "vehicle.plan_changed", "vehicle.departed")
IDLE_S = 30.0  # the longest the clock sleeps: a replan in another process is seen this late
_wake = threading.Event()


def emit(engine: Engine, type: str, data: dict[str, Any]) -> int:
    return append_stream_event(engine, stream=STREAM, type=type, data=data)


def wake_clock() -> None:
    _wake.set()


def claim_ready(engine: Engine, *, now: datetime) -> list[dict[str, Any]]:
    """Mark the cars ready by `now` as told, and say so; each car is claimed by one process."""
    table = charging_sessions
    due = sa.and_(table.c.parked, ~table.c.ready_notified, table.c.ready_at <= now)
    with engine.begin() as connection:
        hold_lot(connection)  # no row locks against a replan's, in another order
        rows = connection.execute(
            table.update()
            .where(due)
            .values(ready_notified=True)
            .returning(table.c.plate, table.c.ready_at, table.c.desired_pct, table.c.capacity_kwh)
        ).all()
    told = []
    for plate, ready_at, desired_pct, capacity in rows:
        data = {
            "plate": plate,
            "ready_at": ready_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "current_charge_kwh": round(desired_pct * capacity / 100.0, 3),
            "desired_pct": desired_pct,
        }
        emit(engine, "vehicle.ready", data)
        told.append(data)
    return told


def next_ready(engine: Engine) -> datetime | None:
    table = charging_sessions
    query = sa.select(sa.func.min(table.c.ready_at)).where(table.c.parked, ~table.c.ready_notified)
    with engine.connect() as connection:
        found: datetime | None = connection.execute(query).scalar()
    return found


class LotClock:
    """A thread that sends `vehicle.ready` when each car's time comes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="charging-clock", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        _wake.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                claim_ready(self.engine, now=datetime.now(UTC))
                upcoming = next_ready(self.engine)
            except Exception:
                log.exception("the charging clock failed; trying again")
                upcoming = None
            wait = IDLE_S
            if upcoming is not None:
                wait = min(IDLE_S, max(0.0, (upcoming - datetime.now(UTC)).total_seconds()))
            _wake.wait(wait)
            _wake.clear()
