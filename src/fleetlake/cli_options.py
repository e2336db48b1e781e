"""Options every job-starting command shares, and how such a command ends."""

from __future__ import annotations

from typing import Annotated, Any

import typer

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the final job as JSON.")]
DetachFlag = Annotated[
    bool, typer.Option("--detach", help="Return at once; the job runs in the background.")
]


def follow_or_detach(engine: Any, job_id: int, *, detach: bool = False, json: bool = False) -> None:
    """Run the queued job here with a live progress bar, or start it in the background."""
    from fleetlake.cli import finish, run_job_here, start_detached

    if detach:
        start_detached(job_id)
        typer.echo(f"job {job_id} started in the background: fleetlake jobs follow {job_id}")
        return
    finish(run_job_here(engine, job_id, quiet=json), as_json=json)
