"""The operators' side of events: list them, acknowledge, resolve, comment — each action kept
with who took it and when, and pushed on the monitoring stream (`event.updated`).

An event is open, then acknowledged, then resolved; a comment fits any state. Acknowledging
a resolved event or resolving one twice is a conflict, not a silent no-op.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.errors import Conflict, InvalidParameter, NotFound
from fleetlake.monitoring.tables import monitoring_event_actions, monitoring_events
from fleetlake.platform.db import iso_utc
from fleetlake.platform.jobs import append_stream_event

STREAM = "monitoring"
NEXT_STATE = {"acknowledge": "acknowledged", "resolve": "resolved", "comment": None}
ALLOWED_FROM = {"acknowledge": ("open",), "resolve": ("open", "acknowledged"), "comment": None}


def list_events(
    connection: Connection, *, template_id: int | None = None, level: str | None = None,
    since: datetime | None = None, state: str | None = None, limit: int = 100,
) -> list[dict[str, Any]]:  # fmt: skip
    """Newest first."""
    table = monitoring_events
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
    for column, value in (("template_id", template_id), ("level", level), ("state", state)):
        if value is not None:
            query = query.where(table.c[column] == value)
    if since is not None:
        query = query.where(table.c.at >= since)
    rows = [dict(r) for r in connection.execute(query).mappings()]
    actions = actions_of(connection, [r["id"] for r in rows])
    return [event_view(r, actions.get(r["id"], [])) for r in rows]


def get_event(connection: Connection, *, event_id: int) -> dict[str, Any]:
    row = connection.execute(sa.select(monitoring_events).where(
        monitoring_events.c.id == event_id)).mappings().first()  # fmt: skip
    if row is None:
        raise NotFound(f"no event has id {event_id}: list them with GET /api/v1/monitoring/events",
                       field="event_id")  # fmt: skip
    return event_view(dict(row), actions_of(connection, [event_id]).get(event_id, []))


def act(
    engine: Engine, *, event_id: int, action: str, by: str, text: str | None, now: datetime
) -> dict[str, Any]:
    """Record one action on an event; the event as it is after it."""
    if action == "comment" and not (text or "").strip():
        raise InvalidParameter("text", "a comment needs its text")
    with engine.begin() as connection:
        event = get_event(connection, event_id=event_id)
        allowed = ALLOWED_FROM[action]
        if allowed is not None and event["state"] not in allowed:
            state = event["state"]
            raise Conflict(f"event {event_id} is {state}: it cannot be {NEXT_STATE[action]} "
                           "now", field="action", state=state)  # fmt: skip
        connection.execute(monitoring_event_actions.insert().values(
            event_id=event_id, action=action, by=by, text=text, at=now))  # fmt: skip
        if NEXT_STATE[action] is not None:
            connection.execute(monitoring_events.update().where(
                monitoring_events.c.id == event_id).values(state=NEXT_STATE[action]))  # fmt: skip
        found = get_event(connection, event_id=event_id)
    append_stream_event(engine, stream=STREAM, type="event.updated", data=found)
    return found


def actions_of(connection: Connection, event_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    if not event_ids:
        return {}
    table = monitoring_event_actions
    query = sa.select(table).where(table.c.event_id.in_(event_ids)).order_by(table.c.id)
    found: dict[int, list[dict[str, Any]]] = {}
    for row in connection.execute(query).mappings():
        found.setdefault(row["event_id"], []).append({
            "action": row["action"], "by": row["by"], "text": row["text"],
            "at": iso_utc(row["at"])})  # fmt: skip
    return found


def event_view(row: dict[str, Any], actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {**{k: row[k] for k in ("id", "template_id", "type", "level", "message", "sensors",
                                   "leak", "state")},
            "at": iso_utc(row["at"]), "actions": actions}  # fmt: skip
