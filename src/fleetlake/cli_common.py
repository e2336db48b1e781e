"""What every command shares — the root's and each domain's: the database, running and
following a job, its options and how such a command ends. Domains import this, never the
root command."""

from __future__ import annotations

import re
import sys
from datetime import date
from typing import Annotated, Any

import typer

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the final job as JSON.")]
DetachFlag = Annotated[
    bool, typer.Option("--detach", help="Return at once; the job runs in the background.")
]


def parse_day(value: str) -> date:
    """A day as the user types it, YYYY-MM-DD; anything else says what is wrong with it."""
    if isinstance(value, date):
        return value
    shaped = re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
    try:
        return date.fromisoformat(value) if shaped else date.fromisoformat("")
    except ValueError as exc:
        why = f": {exc}" if shaped else ""  # a day that does not exist: say which part
        raise typer.BadParameter(f"{value!r} is not a day YYYY-MM-DD{why}") from None


def day_option(help: str, *names: str) -> Any:
    """An option holding one UTC day (`--start 2018-05-01`)."""
    return typer.Option(*names, parser=parse_day, metavar="YYYY-MM-DD", help=help)


def open_engine(*, require_schema: bool = True) -> Any:
    """The configured database; PostgreSQL must already be at the current schema."""
    from fleetlake.platform.db import get_engine, require_current_schema
    from fleetlake.platform.logs import configure_logging
    from fleetlake.settings import get_settings

    settings = get_settings()
    configure_logging(logs_dir=settings.logs_dir, level=settings.log_level)
    engine = get_engine(settings.resolved_database_url)
    if require_schema:
        from fleetlake.domains import register_job_kinds
        from fleetlake.platform.recovery import recover_interrupted

        require_current_schema(engine)
        # A job whose process died is marked failed at the next start, its leftovers tidied.
        recover_interrupted(engine, load_kinds=register_job_kinds)
    return engine


def run_job_here(engine: Any, job_id: int, *, quiet: bool = False) -> dict[str, Any]:
    """Run a queued job in this process with a live progress bar; webhooks fire too."""
    import threading

    from fleetlake.console import follow_job
    from fleetlake.domains import register_job_kinds
    from fleetlake.platform.jobs import run_job
    from fleetlake.platform.webhooks import WebhookDispatcher
    from fleetlake.settings import get_settings

    register_job_kinds()
    settings = get_settings()
    dispatcher = WebhookDispatcher.from_settings(engine, settings)
    dispatcher.start()
    worker = threading.Thread(
        target=run_job,
        args=(engine,),
        name="job",
        kwargs={"job_id": job_id, "logs_dir": settings.logs_dir, "nice": settings.job_nice},
    )
    worker.start()
    try:
        summary = follow_job(engine, job_id, quiet=quiet)
    finally:
        worker.join()
        dispatcher.stop(drain_s=settings.webhook_timeout_s)
    return summary


def start_detached(job_id: int) -> None:
    """Run the job in a background process that outlives this command."""
    import subprocess

    from fleetlake.settings import get_settings

    logs = get_settings().logs_dir
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"job-{job_id}.out").open("ab") as output:
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "fleetlake", "jobs", "run", str(job_id)],
            stdout=output,
            stderr=output,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def finish(summary: dict[str, Any], *, as_json: bool = False) -> None:
    from fleetlake.console import out, print_job

    if as_json:
        out.print_json(data=summary)
    else:
        print_job(summary)
    if summary["state"] != "succeeded":
        raise typer.Exit(1)


def follow_or_detach(engine: Any, job_id: int, *, detach: bool = False, json: bool = False) -> None:
    """Run the queued job here with a live progress bar, or start it in the background."""
    if detach:
        start_detached(job_id)
        typer.echo(f"job {job_id} started in the background: fleetlake jobs follow {job_id}")
        return
    finish(run_job_here(engine, job_id, quiet=json), as_json=json)
