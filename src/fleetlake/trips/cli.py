"""Trips commands: `ingest trips`, `trips weekly-average|groups|verify`; the demo's trips."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from fleetlake.cli_common import (
    DetachFlag,
    JsonFlag,
    day_option,
    follow_or_detach,
    open_engine,
    run_job_here,
)

trips_app = typer.Typer(
    no_args_is_help=True, help="Trips: weekly averages and similar-trip groups."
)


def ingest_trips(
    sources: Annotated[list[str], typer.Argument(help="CSV files, folders or http(s) URLs")],
    force: Annotated[bool, typer.Option(help="Load again files already ingested.")] = False,
    detach: DetachFlag = False,
    json: JsonFlag = False,
) -> None:
    """Ingest trips CSV (.csv or .csv.gz) with a live progress bar."""
    from fleetlake.settings import get_settings
    from fleetlake.trips import service

    engine = open_engine()
    resolved = service.resolve_sources(sources, settings=get_settings())
    job_id = service.queue_ingestion(engine, sources=resolved, force=force)
    follow_or_detach(engine, job_id, detach=detach, json=json)


@trips_app.command("weekly-average")
def weekly_average(
    region: str | None = None,
    bbox: Annotated[str | None, typer.Option(help="min_lon,min_lat,max_lon,max_lat")] = None,
    match: Annotated[str, typer.Option(help="origin, destination, both or either")] = "origin",
    start: Annotated[date | None, day_option("First day (UTC) counted")] = None,
    end: Annotated[date | None, day_option("Last day (UTC) counted")] = None,
    json: bool = False,
) -> None:
    """Average trips per ISO week in a region or bbox (weeks without trips count)."""
    from rich.table import Table

    from fleetlake.console import out
    from fleetlake.platform.lake import Lake
    from fleetlake.settings import get_settings
    from fleetlake.trips import stats
    from fleetlake.trips.areas import BBox

    with open_engine().connect() as connection:
        result = stats.weekly_average(
            connection,
            lake=Lake(get_settings().resolved_lake_uri),
            region=region,
            bbox=BBox.parse(bbox) if bbox else None,
            match=_match(match),
            start=start,
            end=end,
        )
    if json:
        out.print_json(data=result)
        return
    out.print(
        f"weekly average: [bold]{result['weekly_average']:.2f}[/] trips "
        f"({result['trips']:,} trips over {result['weeks']} weeks)"
    )
    table = Table("ISO year", "week", "trips")
    for week in result["per_week"]:
        table.add_row(str(week["year"]), str(week["week"]), f"{week['trips']:,}")
    out.print(table)


@trips_app.command("groups")
def groups(
    region: str | None = None,
    bbox: Annotated[str | None, typer.Option(help="min_lon,min_lat,max_lon,max_lat")] = None,
    match: str = "origin",
    min_count: int = 1,
    limit: int = 20,
    json: bool = False,
) -> None:
    """The biggest groups of similar trips (origin cell, destination cell, time of day)."""
    from rich.table import Table

    from fleetlake.console import out
    from fleetlake.settings import get_settings
    from fleetlake.trips import stats
    from fleetlake.trips.areas import BBox

    with open_engine().connect() as connection:
        found = stats.trip_groups(
            connection,
            settings=get_settings(),
            region=region,
            bbox=BBox.parse(bbox) if bbox else None,
            match=_match(match),
            min_count=min_count,
            limit=limit,
        )
    if json:
        out.print_json(data=found)
        return
    table = Table("trips", "regions", "time", "origin (lon, lat)", "destination (lon, lat)")
    for group in found:
        table.add_row(
            f"{group['trips']:,}",
            ", ".join(group["regions"]),
            f"{group['time_window']['start']}-{group['time_window']['end']}",
            _point(group["origin"]),
            _point(group["destination"]),
        )
    out.print(table)


@trips_app.command("verify")
def verify(json: bool = False) -> None:
    """Recompute every rollup from the trips table and compare; exits 1 on any difference."""
    from rich.table import Table

    from fleetlake.console import out, steps
    from fleetlake.settings import get_settings
    from fleetlake.trips.verify import VERIFY_STEPS, verify_rollups

    settings = get_settings()
    with steps("verify", total=VERIFY_STEPS) as begin:
        report = verify_rollups(
            open_engine(),
            group_resolution=settings.trips.h3_resolution,
            time_bucket_minutes=settings.trips.time_bucket_minutes,
            on_step=begin,
        )
    if json:
        out.print_json(data=report)
    else:
        table = Table("rollup", "missing rows", "extra rows", "drifted sums")
        for name, found in report.items():
            table.add_row(name, str(found["missing"]), str(found["extra"]), str(found["drift"]))
        out.print(table)
    if any(any(found.values()) for found in report.values()):
        out.print("[red]rollups disagree with the trips table[/]")
        raise typer.Exit(1)
    if not json:
        out.print("[green]rollups agree with the trips table[/]")


def _point(point: dict[str, Any]) -> str:
    return f"{point['lon']:.4f}, {point['lat']:.4f}"


def _match(text: str) -> Any:
    from fleetlake.errors import InvalidParameter
    from fleetlake.trips.areas import Match

    try:
        return Match(text)
    except ValueError as exc:
        raise InvalidParameter(
            "match", f"match {text!r}: use origin, destination, both or either"
        ) from exc


def demo_trips(engine: Any, *, settings: Any, rows: int) -> None:
    """Simulated trips in the raw folder, ingested through the real job (skipped if done)."""
    from fleetlake.console import out, print_job
    from fleetlake.simulate.trips import simulate_trips as simulate
    from fleetlake.trips import service

    target = settings.resolved_raw_dir / f"demo-trips-{rows}.csv"
    if not target.exists():
        result = simulate(rows=rows, out=target, bad_share=0.002)
        out.print(f"simulated {result.rows:,} trips → {target}")
    job_id = service.queue_ingestion(engine, sources=[str(target)], force=False)
    print_job(run_job_here(engine, job_id))
