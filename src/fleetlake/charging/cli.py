"""Charging lot commands: `fleetlake charging import|status|ready|remove|plan`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fleetlake.cli_common import DetachFlag, JsonFlag, follow_or_detach, open_engine

charging_app = typer.Typer(
    no_args_is_help=True, help="The charging lot: parked cars, ready times, the power plan."
)
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@charging_app.command("import")
def import_lot(
    source: Annotated[str, typer.Argument(help="A CSV file or an http(s) URL")],
    detach: DetachFlag = False,
    json: JsonFlag = False,
) -> None:
    """Park the cars of a CSV (vehicle,current_charge,total_charge,desired_percentage)."""
    from fleetlake.charging.ingest import queue_import
    from fleetlake.platform.sources import resolve_sources
    from fleetlake.settings import get_settings

    engine = open_engine()
    found = resolve_sources([source], settings=get_settings(), suffixes=(".csv",))
    follow_or_detach(engine, queue_import(engine, source=found[0]), detach=detach, json=json)


@charging_app.command("status")
def status(
    plate: Annotated[str | None, typer.Argument(help="One car; all parked ones if omitted")] = None,
    json: AsJson = False,
) -> None:
    """Each parked car's charge, power now and when it will be ready."""
    from fleetlake.charging import service
    from fleetlake.charging.ingest import cache_for
    from fleetlake.settings import get_settings

    settings, engine, now = get_settings(), open_engine(), service.now_utc()
    if plate is not None:
        found = [service.vehicle_status(engine, plate=plate, settings=settings.charging,
                                        cache=cache_for(settings), now=now)]  # fmt: skip
    else:
        with engine.connect() as connection:
            found = service.list_vehicles(connection, settings=settings.charging, now=now)
    show_vehicles(found, json=json)


@charging_app.command("ready")
def ready(json: AsJson = False) -> None:
    """The cars that have reached their desired charge."""
    from fleetlake.charging import service
    from fleetlake.settings import get_settings

    found = service.ready_vehicles(
        open_engine(), settings=get_settings().charging, now=service.now_utc()
    )
    show_vehicles(found, json=json, empty="no car has reached its desired charge yet")


@charging_app.command("remove")
def remove(
    plate: Annotated[str, typer.Argument(help="The car that leaves")], json: AsJson = False
) -> None:
    """The car leaves: its charge now; its session stays in the history."""
    from fleetlake.charging import service
    from fleetlake.charging.ingest import cache_for
    from fleetlake.console import out
    from fleetlake.settings import get_settings

    settings = get_settings()
    gone = service.remove_vehicle(open_engine(), plate=plate, settings=settings.charging,
                                  cache=cache_for(settings), now=service.now_utc())  # fmt: skip
    if json:
        out.print_json(data=gone)
    else:
        out.print(f"{gone['vehicle']} left with {gone['current_charge']:.1f} kWh")


@charging_app.command("plan")
def plan(
    json: AsJson = False,
    again: Annotated[
        bool, typer.Option("--replan", help="Plan the lot again now (after a new site limit).")
    ] = False,
) -> None:
    """The lot's power plan: each car's power now and until when, under the site limit."""
    from rich.table import Table

    from fleetlake.charging import service, views
    from fleetlake.charging.ingest import cache_for
    from fleetlake.console import out
    from fleetlake.settings import get_settings

    settings, engine = get_settings(), open_engine()
    if again:
        service.replan_lot(engine, settings=settings.charging, cache=cache_for(settings),
                           now=service.now_utc())  # fmt: skip
    with engine.connect() as connection:
        lot = views.lot_plan(connection, settings=settings.charging, now=service.now_utc())
    if json:
        out.print_json(data=lot)
        return
    limit, set_now = lot["site_limit_kw"], lot["settings_site_limit_kw"]
    out.print(f"site limit {_kw(limit)}; drawing {lot['power_now_kw']:.1f} kW now; "
              f"plan {lot['version']}")  # fmt: skip
    if set_now != limit:
        out.print(f"[yellow]the site limit is set to {_kw(set_now)} now: it applies from the "
                  "next replan (`fleetlake charging plan --replan`)[/]")  # fmt: skip
    table = Table("plate", "kW now", "segments", "ready at", "reaches target")
    for car in lot["vehicles"]:
        reaches = "yes" if car["reaches_target"] else "NO"
        table.add_row(car["plate"], f"{car['power_kw']:.1f}", str(len(car["segments"])),
                      short_time(car["ready_at"]), reaches)  # fmt: skip
    out.print(table)


def _kw(limit: float | None) -> str:
    return "none" if limit is None else f"{limit:g} kW"


def show_vehicles(
    found: list[dict[str, Any]], *, json: bool, empty: str = "no cars parked"
) -> None:
    from rich.table import Table

    from fleetlake.console import out

    if json:
        out.print_json(data={"data": found})
        return
    table = Table("plate", "charge", "kWh", "kW now", "ready at", "departure")
    for car in found:
        filled = round(car["soc_pct"] / 20)
        bar = "█" * filled + "░" * (5 - filled) + f" {car['soc_pct']:.0f}/{car['desired_pct']:g}%"
        late = "" if car["reaches_target"] else " (will not reach its target)"
        table.add_row(car["plate"], bar,
                      f"{car['current_charge_kwh']:.1f}/{car['total_charge_kwh']:g}",
                      f"{car['power_kw']:.1f}", short_time(car["ready_at"]) + late,
                      short_time(car["departure"]))  # fmt: skip
    out.print(table if found else empty)


def short_time(iso: str | None) -> str:
    """An ISO 8601 UTC time as the tables show it, to the minute: `12-07 18:43Z`."""
    return "-" if iso is None else f"{iso[5:10]} {iso[11:16]}Z"


def demo_charging(engine: Any, *, settings: Any, cars: int = 40) -> None:
    """A simulated lot parked by the real import job (once per demo home)."""
    from fleetlake.charging.ingest import queue_import
    from fleetlake.charging.plan import any_parked
    from fleetlake.cli_common import run_job_here
    from fleetlake.console import out, print_job
    from fleetlake.simulate.charging import simulate_lot

    with engine.connect() as connection:
        if any_parked(connection):
            return
    lot = simulate_lot(cars=cars, out=settings.home_dir / "data" / "lot.csv", seed=5)
    out.print(f"simulated a lot of {lot.cars} cars ({lot.with_departure} with a departure)")
    print_job(run_job_here(engine, queue_import(engine, source=str(lot.path))))
