"""Terminal output shared by CLI commands: live job progress fed by the job's events."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

console = Console(stderr=True)
out = Console()
TERMINAL_TYPES = {"completed", "failed", "cancelled"}


def follow_job(engine: Any, job_id: int, *, quiet: bool = False) -> dict[str, Any]:
    """Render a job's events as a progress bar until its final event; return its summary."""
    from fleetlake.platform import jobs as job_service
    from fleetlake.platform.events import bus

    with engine.connect() as connection:
        job_service.get_job(connection, job_id=job_id)  # no such job: fail now, not wait
    after = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:>12,} rows  {task.fields[rate]:>10,.0f} rows/s"),
        TimeElapsedColumn(),
    )
    with (
        bus.subscribe(job_id) as subscription,
        Progress(*columns, console=console, disable=quiet, transient=False) as bar,
    ):
        task = bar.add_task(f"job {job_id}", total=None, rows=0, rate=0.0)
        while True:
            with engine.connect() as connection:
                events = job_service.list_events(connection, job_id=job_id, after_id=after)
            for event in events:
                after = event["id"]
                _apply(bar, task, event)
                if event["type"] in TERMINAL_TYPES:
                    with engine.connect() as connection:
                        return job_service.job_summary(
                            job_service.get_job(connection, job_id=job_id)
                        )
            if not events:
                # Another process on SQLite cannot notify us: look again shortly.
                subscription.wait_blocking(0.5)


def _apply(bar: Progress, task: Any, event: dict[str, Any]) -> None:
    data = event["data"]
    if event["type"] == "progress":
        bar.update(
            task,
            completed=data["bytes_done"],
            total=data.get("bytes_total") or None,
            rows=data["rows_done"],
            rate=data.get("rows_per_s", 0.0),
            description=_short(data.get("current_source") or ""),
        )
    elif event["type"] == "source_finished":
        bar.console.print(
            f"  {data['name']}: {data['status']}, {data['rows_loaded']:,} rows, "
            f"{data['rows_quarantined']:,} quarantined"
            + (f" — {data['reason']}" if data.get("reason") else "")
        )


def _short(text: str, width: int = 30) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def print_job(summary: dict[str, Any]) -> None:
    state_style = {"succeeded": "green", "failed": "red", "cancelled": "yellow"}.get(
        summary["state"], "cyan"
    )
    out.print(
        f"job {summary['id']} ({summary['kind']}): [{state_style}]{summary['state']}[/]"
        + (f" in {summary['duration_s']:.1f}s" if summary.get("duration_s") else "")
    )
    if summary.get("error"):
        out.print(f"  [red]{summary['error']}[/]")
    if summary["results"]:
        table = Table("source", "status", "rows loaded", "quarantined", "seconds")
        for result in summary["results"]:
            table.add_row(
                result.get("name", ""),
                result.get("status", ""),
                f"{result.get('rows_loaded', 0):,}",
                f"{result.get('rows_quarantined', 0):,}",
                f"{result.get('duration_s') or 0:.2f}",
            )
        out.print(table)
