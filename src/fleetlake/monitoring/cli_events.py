"""`fleetlake monitoring events|ack|resolve|comment|leak|what-if|baseline`: the operator's
side of alarms."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fleetlake.cli_common import open_engine
from fleetlake.monitoring.cli import AsJson, _moment, _table, monitoring_app

By = Annotated[str, typer.Option("--by", help="Who takes the action")]


@monitoring_app.command("events")
def events(
    template: int | None = None,
    level: str | None = None,
    state: str | None = None,
    limit: int = 50,
    json: AsJson = False,
) -> None:
    """Events, newest first."""
    from fleetlake.monitoring import workflow

    with open_engine().connect() as connection:
        found = workflow.list_events(connection, template_id=template, level=level, state=state,
                                     limit=limit)  # fmt: skip
    _table(found, ["id", "at", "template_id", "level", "state", "message"], json=json)


def _act(event_id: int, action: str, by: str, text: str | None, json: bool) -> None:
    from datetime import UTC, datetime

    from fleetlake.console import out
    from fleetlake.monitoring import workflow

    found = workflow.act(open_engine(), event_id=event_id, action=action, by=by, text=text,
                         now=datetime.now(UTC))  # fmt: skip
    if json:
        out.print_json(data=found)
    else:
        out.print(f"event {event_id} is {found['state']} ({action} by {by})")


@monitoring_app.command("ack")
def acknowledge(event: int, by: By, json: AsJson = False) -> None:
    """Acknowledge an event."""
    _act(event, "acknowledge", by, None, json)


@monitoring_app.command("resolve")
def resolve(event: int, by: By, text: str | None = None, json: AsJson = False) -> None:
    """Resolve an event (with what was done)."""
    _act(event, "resolve", by, text, json)


@monitoring_app.command("comment")
def comment(event: int, text: str, by: By, json: AsJson = False) -> None:
    """Comment on an event."""
    _act(event, "comment", by, text, json)


@monitoring_app.command("leak")
def leak(template: int) -> None:
    """The template's latest leak estimate."""
    from fleetlake.console import out
    from fleetlake.monitoring import alarms

    with open_engine().connect() as connection:
        found = alarms.latest_leak(connection, template_id=template)
    out.print_json(data=found)


@monitoring_app.command("what-if")
def what_if(
    template: int,
    rate_kg_h: Annotated[float, typer.Option()],
    x_m: Annotated[float, typer.Option()],
    y_m: Annotated[float, typer.Option()],
    z_m: Annotated[float, typer.Option()],
    hours: float = 2.0,
    json: AsJson = False,
) -> None:
    """What each sensor would read above background under such a leak."""
    from fleetlake.monitoring import alarms
    from fleetlake.settings import get_settings

    with open_engine().connect() as connection:
        found = alarms.what_if(connection, template_id=template, rate_kg_h=rate_kg_h,
                               source_xyz=(x_m, y_m, z_m), hours=hours, every_s=600,
                               settings=get_settings().monitoring)  # fmt: skip
    rows: list[dict[str, Any]] = [{**s, "after": s["ppmv"][-1]} for s in found["sensors"]]
    _table(rows, ["sensor_id", "name", "distance_m", "after", "steady_ppmv"], json=json)


@monitoring_app.command("baseline")
def baseline(sensor: int, start: str, end: str, json: AsJson = False) -> None:
    """Set the stretch of normal readings a sensor is scored against."""
    from fleetlake.console import out
    from fleetlake.monitoring import catalog

    with open_engine().begin() as connection:
        found = catalog.set_baseline(connection, sensor_id=sensor, start=_moment(start, "start"),
                                     end=_moment(end, "end"))  # fmt: skip
    if json:
        out.print_json(data=found)
    else:
        out.print(f"sensor {sensor} is scored against {start} to {end} from its next round")
