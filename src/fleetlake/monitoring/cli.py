"""Sensor monitoring commands: `fleetlake monitoring platforms|templates|sensors …`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fleetlake.cli_common import DetachFlag, JsonFlag, follow_or_detach, open_engine

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
    from fleetlake.console import out

    values = _validated(lambda: schema.model_validate(body).model_dump())
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


@monitoring_app.command("ingest")
def ingest(
    sources: Annotated[list[str], typer.Argument(help="CSV/NDJSON/Parquet files, folders, URLs")],
    detach: DetachFlag = False,
    json: JsonFlag = False,
) -> None:
    """Land readings (`sensor,ts,ppmv`); refused ones are kept with their reason."""
    from fleetlake.monitoring.ingest import SUFFIXES, queue_import
    from fleetlake.platform.sources import resolve_sources
    from fleetlake.settings import get_settings

    engine = open_engine()
    found = resolve_sources(sources, settings=get_settings(), suffixes=SUFFIXES)
    follow_or_detach(engine, queue_import(engine, sources=found), detach=detach, json=json)


@monitoring_app.command("detect")
def detect(
    once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False,
    every_s: Annotated[float, typer.Option(help="Seconds between rounds.")] = 5.0,
) -> None:
    """Keep every sensor scored and every template's level current (until Ctrl-C)."""
    import threading

    from fleetlake.console import out
    from fleetlake.monitoring.worker import detect_round, run_detector
    from fleetlake.platform.lake import Lake
    from fleetlake.settings import get_settings

    settings = get_settings()
    engine, lake = open_engine(), Lake(settings.resolved_lake_uri)
    if once:
        found = detect_round(engine, lake, settings=settings.monitoring)
        out.print(f"scored {found['readings']:,} readings of {found['sensors']} sensors")
        for event in found["events"]:
            out.print(f"  event {event['id']}: {event['message']}")
        return
    stop = threading.Event()
    out.print("scoring new readings as they land (Ctrl-C stops)")
    try:
        run_detector(engine, lake, settings=settings.monitoring, every_s=every_s, stop=stop)
    except KeyboardInterrupt:
        stop.set()


@monitoring_app.command("series")
def sensor_series(
    sensor: int,
    start: Annotated[str | None, typer.Option(help="ISO 8601; default a day before end")] = None,
    end: Annotated[str | None, typer.Option(help="ISO 8601; default the newest reading")] = None,
    every_s: Annotated[float | None, typer.Option(help="Bucket size in seconds")] = None,
    json: AsJson = False,
) -> None:
    """A sensor's readings as min/mean/max buckets."""
    from fleetlake.monitoring import catalog, series
    from fleetlake.platform.lake import Lake
    from fleetlake.settings import get_settings

    with open_engine().connect() as connection:
        row = catalog.sensor_row(connection, sensor_id=sensor)
    first, last = series.window(_moment(start, "start"), _moment(end, "end"),
                                latest=row["last_reading_at"])  # fmt: skip
    found = series.downsampled(Lake(get_settings().resolved_lake_uri), sensor_id=sensor,
                               start=first, end=last, every_s=every_s)  # fmt: skip
    _table(found["data"], ["ts", "min", "mean", "max", "count"], json=json)


def _moment(text: str | None, field: str) -> Any:
    from datetime import datetime

    from fleetlake.errors import InvalidParameter

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(field, f"{field} {text!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise InvalidParameter(field, f"{field} {text!r} has no zone: add Z or an offset")
    return moment


model_app = typer.Typer(no_args_is_help=True, help="The whole model from one document.")
monitoring_app.add_typer(model_app, name="model")


@model_app.command("load")
def load_model(path: Annotated[str, typer.Argument(help="model.json")]) -> None:
    """Platforms, templates and sensors from a JSON document; existing names are kept."""
    import json
    from pathlib import Path

    from fleetlake.console import out
    from fleetlake.errors import SourceRejected
    from fleetlake.monitoring import catalog
    from fleetlake.settings import get_settings

    try:
        model = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SourceRejected(f"{path} is not a readable JSON model: {exc}") from None
    with open_engine().begin() as connection:
        created = _validated(lambda: catalog.load_model(
            connection, model=model, settings=get_settings().monitoring, now=_now()))  # fmt: skip
    out.print(", ".join(f"{n} {kind} created" for kind, n in created.items()))


def _validated(call: Any) -> Any:
    """A pydantic error as the API's 422 names it: its first problem's field."""
    from pydantic import ValidationError

    from fleetlake.errors import InvalidParameter

    try:
        return call()
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise InvalidParameter(field, f"{field}: {problem['msg']}") from None


def demo_monitoring(engine: Any, *, settings: Any) -> None:
    """A simulated template with a leak, landed and scored by the real job and detector
    (once per demo home)."""
    from datetime import UTC, datetime, timedelta

    from fleetlake.cli_common import run_job_here
    from fleetlake.console import out, print_job
    from fleetlake.monitoring import catalog
    from fleetlake.monitoring.ingest import queue_import
    from fleetlake.monitoring.worker import detect_round
    from fleetlake.platform.lake import Lake
    from fleetlake.simulate.monitoring import simulate_site

    with engine.connect() as connection:
        if catalog.list_platforms(connection):
            return
    start = (datetime.now(UTC) - timedelta(days=8)).replace(hour=0, minute=0, second=0,
                                                            microsecond=0)  # fmt: skip
    site = simulate_site(settings.home_dir / "data" / "monitoring", templates=2, leaks=1,
                         start=start, seed=3)  # fmt: skip
    with engine.begin() as connection:
        import json

        catalog.load_model(connection, model=json.loads(site.model.read_text()),
                           settings=settings.monitoring, now=datetime.now(UTC))  # fmt: skip
    out.print(f"simulated 2 templates, 8 sensors, {site.rows:,} readings, one leak")
    print_job(run_job_here(engine, queue_import(engine, sources=[str(site.readings)])))
    found = detect_round(engine, Lake(settings.resolved_lake_uri), settings=settings.monitoring)
    for event in found["events"]:
        leak = event.get("leak") or {}
        rate = f", leak ≈ {leak['rate_kg_h']:.2f} kg/h" if leak else ""
        out.print(f"  monitoring event {event['id']}: {event['message']}{rate}")
