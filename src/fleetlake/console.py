"""Terminal output shared by CLI commands: live job progress fed by the job's events."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

console = Console(stderr=True)
out = Console()
for _stream in (console, out):
    _stream.soft_wrap = not _stream.is_terminal  # logs and pipes get whole lines, never folded
TERMINAL_TYPES = {"completed", "failed", "cancelled"}


def follow_job(engine: Any, job_id: int, *, quiet: bool = False) -> dict[str, Any]:
    """Render a job's events as a progress bar (plain lines without a terminal) until its
    final event; return its summary."""
    from fleetlake.platform import jobs as job_service
    from fleetlake.platform.events import bus

    with engine.connect() as connection:
        job_service.get_job(connection, job_id=job_id)  # no such job: fail now, not wait
    after = 0
    live = console.is_terminal and not quiet
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[amount]}"),
        TextColumn("{task.fields[rows]:>12,} rows  {task.fields[rate]:>10,.0f} rows/s"),
        TimeElapsedColumn(),
    )
    lines = PlainLines(job_id, enabled=not live and not quiet)
    with (
        bus.subscribe(job_id) as subscription,
        Progress(*columns, console=console, disable=not live, transient=False) as bar,
    ):
        task = bar.add_task(f"job {job_id}", total=None, rows=0, rate=0.0, amount="")
        while True:
            with engine.connect() as connection:
                events = job_service.list_events(connection, job_id=job_id, after_id=after)
            for event in events:
                after = event["id"]
                _apply(bar, task, event, lines)
                if event["type"] in TERMINAL_TYPES:
                    with engine.connect() as connection:
                        return job_service.job_summary(
                            job_service.get_job(connection, job_id=job_id)
                        )
            if not events:
                # Another process on SQLite cannot notify us: look again shortly.
                subscription.wait_blocking(0.5)


class PlainLines:
    """Progress as a line every few seconds, for logs and pipes (no bar to redraw)."""

    def __init__(self, job_id: int, *, enabled: bool, every_s: float = 5.0) -> None:
        self.job_id, self.enabled, self.every_s = job_id, enabled, every_s
        self.last, self.where = 0.0, ""

    def progress(self, where: str, text: str) -> None:
        """A line when `where` (stage or source) changes, or every `every_s` seconds."""
        now = time.monotonic()
        if self.enabled and (where != self.where or now - self.last >= self.every_s):
            console.print(f"job {self.job_id}: {text}", soft_wrap=True, highlight=False)
            self.last, self.where = now, where


@contextmanager
def steps(title: str, *, total: int) -> Iterator[Callable[[str], None]]:
    """Progress of a command made of `total` named steps: a bar on a terminal, a plain line
    per step otherwise. Yields `begin(step)`, called as each step starts."""
    live = console.is_terminal
    started = time.monotonic()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=not live, transient=True) as bar:
        task = bar.add_task(title, total=total)
        done = -1

        def begin(step: str) -> None:
            nonlocal done
            done += 1
            bar.update(task, completed=done, description=f"{title}: {step}")
            if not live:
                elapsed = time.monotonic() - started
                console.print(f"{title}: {done + 1}/{total} {step} ({elapsed:.1f} s)",
                              soft_wrap=True, highlight=False)  # fmt: skip

        yield begin
        bar.update(task, completed=total)


def progress_text(data: dict[str, Any]) -> tuple[str, float | None, float | None]:
    """What a progress event measured — files, hours, vehicle-days or bytes — as
    (amount text, done, total)."""
    unit = data.get("unit") or "bytes"
    if unit == "bytes":
        done, total = data.get("bytes_done") or 0, data.get("bytes_total") or None
        if not done and not total:
            return "", None, None
        shown = f"{_size(done)}/{_size(total)}" if total else _size(done)
        return shown, done, total
    done, total = data.get("done") or 0, data.get("total") or None
    return (f"{done:,}/{total:,} {unit}" if total else f"{done:,} {unit}"), done, total


def _size(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} GB"


def _apply(bar: Progress, task: Any, event: dict[str, Any], lines: PlainLines) -> None:
    data = event["data"]
    if event["type"] == "progress":
        amount, done, total = progress_text(data)
        where = data.get("stage") or data.get("current_source") or ""
        bar.update(
            task,
            completed=done or 0,
            total=total,
            rows=data["rows_done"],
            rate=data.get("rows_per_s", 0.0),
            amount=amount,
            description=_short(where) or bar.tasks[0].description,
        )
        text = ", ".join(p for p in (where, amount, f"{data['rows_done']:,} rows") if p)
        lines.progress(where, text)
    elif event["type"] == "source_finished":
        bar.console.print(
            f"  {data['name']}: {data['status']}, {data['rows_loaded']:,} rows, "
            f"{data['rows_quarantined']:,} quarantined"
            + (f" — {data['reason']}" if data.get("reason") else ""),
            highlight=False,
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
        for result in summary["results"]:
            print_refused(result)


SHOWN_REFUSED = 10  # refused rows listed after a job; the rest are in its quarantine


def print_refused(result: dict[str, Any]) -> None:
    """The first rows a source refused, with their line and reason."""
    refused = result.get("rejected") or []
    for row in refused[:SHOWN_REFUSED]:
        out.print(f"  [yellow]{result.get('name', '')} line {row['line']}[/]: {row['reason']}")
    more = result.get("rows_quarantined", len(refused)) - min(len(refused), SHOWN_REFUSED)
    if more > 0:
        out.print(f"  … and {more:,} more refused rows, all kept in the job's quarantine")
