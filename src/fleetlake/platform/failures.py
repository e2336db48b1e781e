"""What a failed job says: one line naming the stage, the file or partition it was on, and
the error — the traceback stays in the job's log.

Code marks what it works on with `working_on(stage="silver", file=...)`; an exception that
leaves such a block carries it as a note (PEP 678), innermost last, and `failure_reason`
puts the notes before the error's own text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fleetlake.errors import FleetlakeError

NOTE = "fleetlake: "
MAX_REASON = 500  # characters: a reason is a line, not a dump


@contextmanager
def working_on(**where: object) -> Iterator[None]:
    """Name what the block works on (`stage`, `file`, `hours`…) in any error leaving it."""
    try:
        yield
    except Exception as exc:
        exc.add_note(NOTE + ", ".join(f"{key} {value}" for key, value in where.items()))
        raise


def failure_reason(exc: BaseException) -> str:
    """`silver, hours 2026-11-16T08…09: IndexError: -1 out of bounds`, on one line."""
    own = exc.message if isinstance(exc, FleetlakeError) else f"{type(exc).__name__}: {exc}"
    notes = [n.removeprefix(NOTE) for n in getattr(exc, "__notes__", []) if n.startswith(NOTE)]
    text = " ".join(": ".join([*reversed(notes), own]).split())  # outermost first
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def short_list(names: list[str], *, shown: int = 3) -> str:
    """`a, b, c and 4 more`: enough of a long list to find it in the log."""
    head = ", ".join(names[:shown])
    return f"{head} and {len(names) - shown} more" if len(names) > shown else head
