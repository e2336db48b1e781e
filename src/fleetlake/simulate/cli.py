"""`fleetlake simulate …`: realistic synthetic data for every domain, with its truth."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from fleetlake.cli_common import day_option

simulate_app = typer.Typer(no_args_is_help=True, help="Realistic synthetic data for every domain.")


@simulate_app.command("trips")
def simulate_trips(
    rows: Annotated[int, typer.Option(min=1)] = 100_000,
    out: Annotated[Path, typer.Option(help=".csv or .csv.gz file to write")] = Path("trips.csv"),
    seed: int = 7,
    bad_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of malformed rows.")
    ] = 0.0,
    weeks: Annotated[int, typer.Option(min=1)] = 8,
) -> None:
    """Write a realistic trips CSV (several cities, commute peaks, repeated routes)."""
    from fleetlake.console import out as console_out
    from fleetlake.simulate.trips import simulate_trips as simulate

    result = simulate(rows=rows, out=out, seed=seed, bad_share=bad_share, weeks=weeks)
    console_out.print(
        f"wrote {result.rows:,} trips ({result.bad_rows:,} malformed) to {result.path}"
    )


@simulate_app.command("charging")
def simulate_charging(
    cars: Annotated[int, typer.Option(min=1, max=1_000_000)] = 40,
    out: Annotated[Path, typer.Option(help="The lot CSV to write")] = Path("lot.csv"),
    seed: int = 7,
) -> None:
    """A parked lot as an operator's CSV: capacities, charges, targets, departures."""
    from fleetlake.console import out as console
    from fleetlake.simulate.charging import simulate_lot

    lot = simulate_lot(cars=cars, out=out, seed=seed)
    console.print(f"wrote {lot.cars:,} cars ({lot.with_departure:,} with a departure) to {lot.path}"
                  f": fleetlake charging import {lot.path}")  # fmt: skip


@simulate_app.command("monitoring")
def simulate_monitoring(
    out: Annotated[Path, typer.Option(help="Folder for model.json, readings.csv, truth.json")] = (
        Path("monitoring")
    ),
    templates: Annotated[int, typer.Option(min=1, max=100)] = 2,
    sensors: Annotated[int, typer.Option(min=1, max=6, help="Per template")] = 4,
    days: Annotated[float, typer.Option(min=1.5, max=60, help="7 are the baseline")] = 8.0,
    leaks: Annotated[int, typer.Option(min=0, help="Templates that leak on the last day")] = 1,
    leak_kg_h: Annotated[float, typer.Option(min=0.01, max=1000)] = 2.0,
    start: Annotated[str, typer.Option(help="First reading, ISO 8601 date")] = "2026-11-01",
    seed: int = 1,
    serve: Annotated[
        int | None, typer.Option(help="Also serve the readings as an Omnia-shaped API on this port")
    ] = None,
    client_secret: Annotated[
        str | None, typer.Option(help="--serve: the OAuth2 secret of client 'fleetlake'")
    ] = None,
) -> None:
    """Templates with methane sensors: a week of baseline and leaks, with the truth."""
    from datetime import UTC, datetime

    from fleetlake.console import out as console
    from fleetlake.simulate.monitoring import simulate_site

    first = datetime.fromisoformat(start).replace(tzinfo=UTC)
    leaks = min(leaks, templates)
    site = simulate_site(out, templates=templates, sensors=sensors, days=days, leaks=leaks,
                         leak_kg_h=leak_kg_h, start=first, seed=seed)  # fmt: skip
    console.print(f"wrote {site.rows:,} readings and {site.leaks} leak(s) to {out}: "
                  f"fleetlake monitoring model load {site.model} && fleetlake monitoring "
                  f"ingest {site.readings} && fleetlake monitoring detect --once")  # fmt: skip
    if serve is not None:
        _serve_sensors(serve, readings=site.readings, client_secret=client_secret)


def _serve_sensors(port: int, *, readings: Path, client_secret: str | None) -> None:
    import secrets

    from fleetlake.simulate.monitoring import site_timeseries
    from fleetlake.simulate.omnia_api import BASE, omnia_api

    series = site_timeseries(readings)
    secret = client_secret or secrets.token_urlsafe(12)
    app = omnia_api(series, client_id="fleetlake", client_secret=secret)
    _serve(app, port, f"{len(series)} timeseries on http://127.0.0.1:{port}{BASE}", secret)


def _serve(app: Any, port: int, what: str, secret: str) -> None:
    import uvicorn

    from fleetlake.console import out as console

    console.print(f"{what} (OAuth2 token at /oauth/token, client fleetlake, secret {secret}); "
                  "Ctrl-C to stop")  # fmt: skip
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


@simulate_app.command("telemetry")
def simulate_telemetry(
    vehicles: Annotated[int, typer.Option(min=1)] = 10,
    days: Annotated[int, typer.Option(min=1)] = 1,
    start: Annotated[date, day_option("First simulated day (UTC)")] = date(2026, 11, 16),
    interval_s: Annotated[int, typer.Option(min=1, help="Seconds between messages")] = 10,
    seed: int = 7,
    faults: Annotated[bool, typer.Option(help="Add duplicates, jumps, skew… (logged)")] = True,
    out: Annotated[Path | None, typer.Option(help="Write NDJSON files and the truth here")] = None,
    mqtt: Annotated[str | None, typer.Option(help="Publish to this broker instead")] = None,
    topic_base: str = "fleet",
    serve: Annotated[
        int | None, typer.Option(help="Serve the fleet as a provider API on this port")
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(help="--serve: the OAuth2 secret of client 'fleetlake' (default: random)"),
    ] = None,
) -> None:
    """A realistic EV fleet's telemetry, with the faults real feeds have and its truth."""
    from fleetlake.console import out as console
    from fleetlake.errors import InvalidParameter
    from fleetlake.simulate.telemetry_faults import NO_FAULTS, FaultRates
    from fleetlake.simulate.telemetry_run import FleetSpec, publish_mqtt, write_files

    rates = FaultRates() if faults else NO_FAULTS
    spec = FleetSpec(vehicles, days, start, seed=seed, interval_s=interval_s, rates=rates)
    if [out, mqtt, serve].count(None) != 2:
        raise InvalidParameter("out", "give one of --out DIR, --mqtt URL or --serve PORT")
    if serve is not None:
        _serve_fleet(serve, client_secret=client_secret, spec=spec)
        return
    if out is not None:
        summary = write_files(out, spec)
    else:
        summary = publish_mqtt(str(mqtt), spec, topic_base=topic_base)
    console.print(
        f"{summary.messages:,} messages for {vehicles} vehicles over {days} days "
        f"({summary.truth_rows:,} true observations; faults {summary.faults})"
    )


def _serve_fleet(port: int, *, client_secret: str | None, spec: Any) -> None:
    import secrets

    import pyarrow as pa

    from fleetlake.simulate.telemetry_api import telemetry_api
    from fleetlake.simulate.telemetry_run import simulated_days

    days = list(simulated_days(spec))
    messages = pa.concat_tables([delivered for _, _, delivered, _ in days])
    messages = messages.sort_by([("received_at", "ascending")])
    secret = client_secret or secrets.token_urlsafe(12)
    app = telemetry_api(messages, client_id="fleetlake", client_secret=secret)
    _serve(app, port, f"{messages.num_rows:,} messages on http://127.0.0.1:{port}/api/v1/telemetry",
           secret)  # fmt: skip
