"""Sensor monitoring commands: `fleetlake monitoring platforms|templates|sensors …`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fleetlake.cli_common import open_engine

monitoring_app = typer.Typer(
    no_args_is_help=True, help="Sensor monitoring: platforms, templates, sensors, alarms."
)
platforms_app = typer.Typer(no_args_is_help=True, help="Offshore platforms.")
templates_app = typer.Typer(no_args_is_help=True, help="Subsea templates and their geometry.")
sensors_app = typer.Typer(no_args_is_help=True, help="Gas sensors and their positions.")
monitoring_app.add_typer(platforms_app, name="platforms")
monitoring_app.add_typer(templates_app, name="templates")
monitoring_app.add_typer(sensors_app, name="sensors")
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PerFace = typer.Option(help="One value, or one per face: 0.3 or 0.3,0.1,0.3,0.1")


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _faces(text: str) -> float | list[float]:
    values = [float(part) for part in text.split(",") if part.strip()]
    return values[0] if len(values) == 1 else values


def _created(body: dict[str, Any], schema: Any, create: Any, *, json: bool) -> None:
    """Validate the body as the API does, create it in one transaction, show it."""
    from pydantic import ValidationError

    from fleetlake.console import out
    from fleetlake.errors import InvalidParameter

    try:
        values = schema.model_validate(body).model_dump()
    except ValidationError as exc:  # the first problem, as the API's 422 names it
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise InvalidParameter(field, f"{field}: {problem['msg']}") from None
    with open_engine().begin() as connection:
        found = create(connection, values)
    if json:
        out.print_json(data=found)
    else:
        out.print(f"created {found['name']!r} (id {found['id']})")


@platforms_app.command("add")
def add_platform(name: str, description: str | None = None, json: AsJson = False) -> None:
    """A platform the templates belong to."""
    from fleetlake.monitoring import catalog
    from fleetlake.monitoring.schemas import PlatformIn

    _created(
        {"name": name, "description": description},
        PlatformIn,
        lambda c, v: catalog.create_platform(c, **v, now=_now()),
        json=json,
    )


@templates_app.command("add")
def add_template(
    name: str,
    platform: Annotated[int, typer.Option(help="The platform's id")],
    volume_m3: Annotated[float, typer.Option(help="Internal volume")],
    length_m: Annotated[float, typer.Option()],
    width_m: Annotated[float, typer.Option()],
    height_m: Annotated[float, typer.Option()],
    porosity: Annotated[str, PerFace],
    wall_area_m2: Annotated[str, PerFace],
    angle_from_north_deg: float = 0.0,
    inclination_deg: Annotated[str, PerFace] = "0",
    json: AsJson = False,
) -> None:
    """A template on a platform, with the geometry the leak model uses."""
    from fleetlake.monitoring import catalog
    from fleetlake.monitoring.schemas import TemplateIn
    from fleetlake.settings import get_settings

    body = {
        "platform_id": platform,
        "name": name,
        "internal_volume_m3": volume_m3,
        "length_m": length_m,
        "width_m": width_m,
        "height_m": height_m,
        "angle_from_north_deg": angle_from_north_deg,
        "porosity": _faces(porosity),
        "wall_area_m2": _faces(wall_area_m2),
        "inclination_deg": _faces(inclination_deg),
    }
    settings = get_settings().monitoring
    _created(
        body,
        TemplateIn,
        lambda c, v: catalog.create_template(c, values=v, settings=settings, now=_now()),
        json=json,
    )


@sensors_app.command("add")
def add_sensor(
    name: str,
    template: Annotated[int, typer.Option(help="The template's id")],
    x_m: Annotated[float, typer.Option(help="Position in the template's frame")],
    y_m: Annotated[float, typer.Option()],
    z_m: Annotated[float, typer.Option()],
    source_id: Annotated[str | None, typer.Option(help="Its name at the source")] = None,
    json: AsJson = False,
) -> None:
    """A sensor in a template."""
    from fleetlake.monitoring import catalog
    from fleetlake.monitoring.schemas import SensorIn

    body = {
        "template_id": template,
        "name": name,
        "x_m": x_m,
        "y_m": y_m,
        "z_m": z_m,
        "source_id": source_id,
    }
    _created(body, SensorIn, lambda c, v: catalog.create_sensor(c, values=v, now=_now()), json=json)


@platforms_app.command("list")
def list_platforms(json: AsJson = False) -> None:
    from fleetlake.monitoring import catalog

    with open_engine().connect() as connection:
        found = catalog.list_platforms(connection)
    _table(found, ["id", "name", "description"], json=json)


@templates_app.command("list")
def list_templates(platform: int | None = None, json: AsJson = False) -> None:
    from fleetlake.monitoring import catalog
    from fleetlake.settings import get_settings

    with open_engine().connect() as connection:
        found = catalog.list_templates(
            connection, settings=get_settings().monitoring, platform_id=platform
        )
    _table(found, ["id", "platform_id", "name", "internal_volume_m3", "exchange_per_h"], json=json)


@sensors_app.command("list")
def list_sensors(template: int | None = None, json: AsJson = False) -> None:
    from fleetlake.monitoring import catalog

    with open_engine().connect() as connection:
        found = catalog.list_sensors(connection, template_id=template)
    _table(found, ["id", "template_id", "name", "x_m", "y_m", "z_m", "source_id"], json=json)


def _table(rows: list[dict[str, Any]], columns: list[str], *, json: bool) -> None:
    from rich.table import Table

    from fleetlake.console import out

    if json:
        out.print_json(data={"data": rows})
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*["-" if row[c] is None else str(row[c]) for c in columns])
    out.print(table if rows else "none yet")
