"""One logging configuration: human lines on a TTY, JSON lines under `<home>/logs/`."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleetlake.platform.redact import redact_text

_configured = False


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        job_id = getattr(record, "job_id", None)
        if job_id is not None:
            entry["job_id"] = job_id
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry)


def configure_logging(*, logs_dir: Path, level: str = "INFO") -> None:
    """Idempotent: the CLI and the server both call it at start-up."""
    global _configured
    if _configured:
        return
    logs_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger("fleetlake")
    root.setLevel(level.upper())
    file_handler = logging.FileHandler(logs_dir / "fleetlake.jsonl", encoding="utf-8")
    file_handler.setFormatter(JsonLineFormatter())
    root.addHandler(file_handler)
    if sys.stderr.isatty():
        console = logging.StreamHandler()
        console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        console.setLevel(logging.WARNING)
        root.addHandler(console)
    _configured = True


def job_log_handler(*, logs_dir: Path, job_id: int) -> logging.Handler:
    """A per-job JSON-lines file, attached while the job runs."""
    jobs_dir = logs_dir / "jobs"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(jobs_dir / f"job-{job_id}.jsonl", encoding="utf-8")
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(lambda record: getattr(record, "job_id", None) == job_id)
    return handler
