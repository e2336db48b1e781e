"""The lot's pushed news: `vehicle.ready` at each car's ready time, `vehicle.plan_changed` when a
replan moves a ready time, `vehicle.departed` when a car leaves — one stream, `charging`, on
the platform's events (SSE, WebSocket, signed webhooks).

The clock sleeps until the next ready time (woken early by every replan) and claims the cars
the plan has ready by then with a conditional UPDATE of their rows, so with several server
processes each car's `vehicle.ready` is sent exactly once.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fleetlake.charging.lot_plan import LotPlan
from fleetlake.charging.plan import current_plan, hold_lot
from fleetlake.charging.settings import ChargingSettings
from fleetlake.charging.snapshot import iso
from fleetlake.charging.tables import charging_sessions
from fleetlake.platform.jobs import append_stream_event, append_stream_events

log = logging.getLogger(__name__)
STREAM = "charging"
TYPES = ("vehicle.ready", "vehicle.plan_changed", "vehicle.departed")
EMIT_CHUNK = 500  # events in one transaction
CLAIM_CHUNK = 1000  # ids in one claiming UPDATE: well under every database's parameter limit
NAP_S = 0.5  # the shortest the clock sleeps: a `vehicle.ready` is at most this late
IDLE_S = 30.0  # the longest the clock sleeps: a replan in another process is seen this late
_wake = threading.Event()


def emit(engine: Engine, type: str, data: dict[str, Any]) -> int:
    return append_stream_event(engine, stream=STREAM, type=type, data=data)


def emit_all(engine: Engine, type: str, datas: list[dict[str, Any]]) -> None:
    """Events of one type in one transaction: a replan can move thousands of ready times."""
    for start in range(0, len(datas), EMIT_CHUNK):
        chunk = datas[start : start + EMIT_CHUNK]
        append_stream_events(engine, stream=STREAM, events=[(type, data) for data in chunk])


def wake_clock() -> None:
    _wake.set()


def claim_ready(
    engine: Engine, *, settings: ChargingSettings, now: datetime
) -> tuple[list[dict[str, Any]], datetime | None]:
    """Mark the cars ready by `now` as told, and say so (each car is claimed by one process);
    the next ready time still to tell."""
    table = charging_sessions
    now_s = now.timestamp()
    with engine.begin() as connection:
        hold_lot(connection)  # no row locks against a replan's, in another order
        plan = current_plan(connection, settings=settings, now=now)
        untold = connection.execute(
            sa.select(table.c.id).where(table.c.parked, ~table.c.ready_notified)
        ).scalars()
        waiting = np.isin(plan.session_id, np.fromiter(untold, dtype=np.int64))
        ready_s = plan.cars["ready_s"]
        due = waiting & (ready_s <= now_s)
        claimed: set[int] = set()
        ids = plan.session_id[due].tolist()
        for start in range(0, len(ids), CLAIM_CHUNK):
            claimed |= set(connection.execute(
                table.update()
                .where(table.c.id.in_(ids[start : start + CLAIM_CHUNK]), ~table.c.ready_notified)
                .values(ready_notified=True)
                .returning(table.c.id)
            ).scalars())  # fmt: skip
    told = [ready_news(plan, i) for i in np.flatnonzero(due).tolist()
            if int(plan.session_id[i]) in claimed]  # fmt: skip
    emit_all(engine, "vehicle.ready", told)
    upcoming = ready_s[waiting & ~due]
    upcoming = upcoming[~np.isnan(upcoming)]
    return told, datetime.fromtimestamp(float(upcoming.min()), UTC) if upcoming.size else None


def ready_news(plan: LotPlan, i: int) -> dict[str, Any]:
    cars = plan.cars
    desired = float(cars["desired_pct"][i])
    return {
        "plate": plan.plates[i],
        "ready_at": iso(float(cars["ready_s"][i])),
        "current_charge_kwh": round(desired * float(cars["capacity_kwh"][i]) / 100.0, 3),
        "desired_pct": desired,
    }


class LotClock:
    """A thread that sends `vehicle.ready` when each car's time comes."""

    def __init__(self, engine: Engine, *, settings: ChargingSettings) -> None:
        self.engine, self.settings = engine, settings
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
                _, upcoming = claim_ready(
                    self.engine, settings=self.settings, now=datetime.now(UTC)
                )
            except Exception:
                log.exception("the charging clock failed; trying again")
                upcoming = None
            wait = IDLE_S
            if upcoming is not None:
                wait = min(IDLE_S, (upcoming - datetime.now(UTC)).total_seconds())
            wait = max(NAP_S, wait)  # cars ready milliseconds apart are claimed together
            _wake.wait(wait)
            _wake.clear()
