"""The `fleetlake` command. Commands parse, call one service function, and format.

Heavy libraries are imported inside the commands so that start-up stays fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fleetlake.charging import cli as charging_cli
from fleetlake.cli_common import finish, open_engine, run_job_here, start_detached
from fleetlake.errors import FleetlakeError
from fleetlake.monitoring import cli as monitoring_cli
from fleetlake.monitoring import cli_events, cli_sources  # noqa: F401  (commands join monitoring's)
from fleetlake.simulate.cli import simulate_app
from fleetlake.telemetry import cli as telemetry_cli
from fleetlake.trips import cli as trips_cli

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="fleetlake: fleet telemetry → lake → SQL → API, CLI and dashboard.",
)
db_app = typer.Typer(no_args_is_help=True, help="Serving database schema.")
jobs_app = typer.Typer(
    no_args_is_help=True, help="Durable jobs: list, show, follow, cancel, retry."
)
ingest_app = typer.Typer(no_args_is_help=True, help="Ingest data from files, folders or URLs.")
pipeline_app = typer.Typer(no_args_is_help=True, help="Lake transforms: bronze → silver → gold.")
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
app.add_typer(ingest_app, name="ingest")
app.add_typer(simulate_app, name="simulate")
app.add_typer(pipeline_app, name="pipeline")
# Each domain's commands, mounted here: a domain never imports this module.
app.add_typer(trips_cli.trips_app, name="trips")
app.add_typer(telemetry_cli.telemetry_app, name="telemetry")
app.add_typer(charging_cli.charging_app, name="charging")
app.add_typer(monitoring_cli.monitoring_app, name="monitoring")
ingest_app.command("trips")(trips_cli.ingest_trips)
ingest_app.command("telemetry")(telemetry_cli.ingest_telemetry)
pipeline_app.command("run")(telemetry_cli.pipeline_run)

_state = {"debug": False}


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


@app.command("worker")
def worker() -> None:
    """Run every domain's continuous work until stopped: telemetry's sources, its pipeline
    every FLEETLAKE_PIPELINE_EVERY_S and compaction after each UTC midnight; monitoring's
    sources, detection rounds and compaction."""
    import signal
    import threading

    from fleetlake.console import out
    from fleetlake.domains import register_job_kinds
    from fleetlake.monitoring.worker import MonitoringWorker
    from fleetlake.settings import get_settings
    from fleetlake.telemetry.worker import Worker

    settings, engine = get_settings(), open_engine()
    register_job_kinds()
    telemetry, monitoring = Worker(engine, settings), MonitoringWorker(engine, settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    beside = threading.Thread(target=monitoring.run, args=(stop,), name="monitoring")
    out.print(
        f"worker: telemetry {len(telemetry.config.http)} HTTP and {len(telemetry.config.mqtt)} "
        f"MQTT sources, monitoring {len(monitoring.sources.omnia)} Omnia and "
        f"{len(monitoring.sources.mqtt)} MQTT sources, from {settings.resolved_sources_file}; "
        "Ctrl-C to stop"
    )
    beside.start()
    try:
        telemetry.run(stop)
    except KeyboardInterrupt:
        stop.set()
    stop.set()
    beside.join()
    out.print(f"worker stopped after {len(telemetry.jobs) + len(monitoring.jobs)} jobs")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the serving database to the schema this fleetlake needs."""
    from fleetlake.console import out
    from fleetlake.platform.db import schema_revisions, upgrade

    engine = open_engine(require_schema=False)
    upgrade(engine)
    out.print(f"database at revision {schema_revisions(engine)[0]}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's schema revision and the one this code needs."""
    from fleetlake.console import out
    from fleetlake.platform.db import schema_revisions

    current, head = schema_revisions(open_engine(require_schema=False))
    out.print(f"database: {current or 'empty'}; needed: {head}")


@jobs_app.command("list")
def jobs_list(kind: str | None = None, limit: int = 20, json: bool = False) -> None:
    """Recent jobs, newest first."""
    from rich.table import Table

    from fleetlake.console import out
    from fleetlake.platform import jobs as job_service

    with open_engine().connect() as connection:
        jobs = [
            job_service.job_summary(j)
            for j in job_service.list_jobs(connection, kind=kind, limit=limit)
        ]
    if json:
        out.print_json(data=jobs)
        return
    table = Table("id", "kind", "state", "created", "rows", "error")
    for job in jobs:
        table.add_row(
            str(job["id"]),
            job["kind"],
            job["state"],
            job["created_at"][:19],
            f"{job['progress']['rows_done']:,}",
            (job["error"] or "")[:60],
        )
    out.print(table)


@jobs_app.command("show")
def jobs_show(job_id: int, json: bool = False) -> None:
    """One job's state, progress and per-source results."""
    from fleetlake.console import out, print_job
    from fleetlake.platform import jobs as job_service

    with open_engine().connect() as connection:
        summary = job_service.job_summary(job_service.get_job(connection, job_id=job_id))
    out.print_json(data=summary) if json else print_job(summary)


@jobs_app.command("follow")
def jobs_follow(
    job_id: Annotated[int | None, typer.Argument(help="Default: the latest job")] = None,
) -> None:
    """Live progress of a job until it ends; exits 1 if it did not succeed."""
    from fleetlake.console import follow_job
    from fleetlake.errors import NotFound
    from fleetlake.platform import jobs as job_service

    engine = open_engine()
    if job_id is None:
        with engine.connect() as connection:
            latest = job_service.list_jobs(connection, limit=1)
        if not latest:
            raise NotFound("there are no jobs yet: start one (fleetlake ingest …)", field="job_id")
        job_id = int(latest[0]["id"])
    finish(follow_job(engine, job_id))


@jobs_app.command("cancel")
def jobs_cancel(job_id: int) -> None:
    """Ask a queued or running job to stop after its current chunk."""
    from fleetlake.console import out
    from fleetlake.platform import jobs as job_service

    job_service.request_cancel(open_engine(), job_id=job_id)
    out.print(f"cancel requested for job {job_id}")


@jobs_app.command("retry")
def jobs_retry(job_id: int, detach: bool = False) -> None:
    """Run a finished job again; ingestion resumes after what was already committed."""
    from fleetlake.platform import jobs as job_service

    engine = open_engine()
    new_id = job_service.retry_job(engine, job_id=job_id)
    if detach:
        start_detached(new_id)
        typer.echo(f"job {new_id} started in the background: fleetlake jobs follow {new_id}")
        return
    finish(run_job_here(engine, new_id))


@jobs_app.command("run", hidden=True)
def jobs_run(job_id: int) -> None:
    """Run a queued job in this process (used by --detach)."""
    engine = open_engine()  # recovers interrupted jobs too
    finish(run_job_here(engine, job_id, quiet=True))


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes (PostgreSQL only: SQLite takes 1).")
    ] = 1,
) -> None:
    """Serve the API and the dashboard."""
    from fleetlake.api.serve import serve as run_server
    from fleetlake.errors import InvalidParameter

    engine = open_engine()  # fail here, with one line, if the schema is outdated
    if workers > 1 and engine.dialect.name != "postgresql":
        # Job events reach other processes by PostgreSQL NOTIFY; SQLite has no such channel.
        raise InvalidParameter("workers", "--workers > 1 needs PostgreSQL; use 1 with SQLite")
    engine.dispose()
    run_server(host=host, port=port, workers=workers)


DEMO_KEY_FILE = "demo-api-key"


@app.command()
def demo(
    rows: Annotated[int, typer.Option(help="Simulated trips to ingest.")] = 200_000,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Simulate data for every domain, ingest it through the real jobs, and serve it."""
    import os
    import secrets

    from fleetlake.console import out
    from fleetlake.settings import get_settings

    settings = get_settings()
    key_file = settings.home_dir / DEMO_KEY_FILE
    if not settings.api_keys:  # one key per demo home, kept so the README tour can read it
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(f"demo-{secrets.token_urlsafe(12)}\n")
            key_file.chmod(0o600)
        os.environ["FLEETLAKE_API_KEYS"] = key_file.read_text().strip()
        get_settings.cache_clear()
        settings = get_settings()
    engine = open_engine()
    from fleetlake.telemetry.cli import demo_telemetry
    from fleetlake.trips.cli import demo_trips

    demo_trips(engine, settings=settings, rows=rows)
    demo_telemetry(engine, settings=settings)
    charging_cli.demo_charging(engine, settings=settings)
    monitoring_cli.demo_monitoring(engine, settings=settings)
    out.print(
        f"\n[bold]fleetlake demo[/] on http://{host}:{port}/  ·  API docs http://{host}:{port}/docs"
    )
    where = f" (also in {key_file})" if key_file.exists() else ""
    out.print(f"API key for uploads and other writes: [bold]{settings.api_keys[0]}[/]{where}")
    serve(host=host, port=port)


def main() -> None:
    from rich.markup import escape

    from fleetlake.console import console

    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except FleetlakeError as exc:
        if _state["debug"]:
            raise
        console.print(f"[red]error:[/] {escape(exc.message)}", soft_wrap=True)  # text, not markup
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        console.print("[yellow]aborted[/]")
        sys.exit(130)
    except typer.TyperException as exc:  # usage: a wrong option, value or command
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        console.print(f"[red]error:[/] {escape(message)} (see --help)", soft_wrap=True,
                      highlight=False)  # fmt: skip
        sys.exit(1)
    except Exception as exc:  # the unexpected
        if _state["debug"]:
            raise
        console.print(
            f"[red]error:[/] {type(exc).__name__}: {escape(str(exc))} "
            "(run with --debug for details)",
            soft_wrap=True,
        )
        sys.exit(1)
