"""The sources file (`FLEETLAKE_SOURCES_FILE`, default `<home>/sources.toml`) that the worker
runs: each domain reads its own tables of it. Secrets stay in the environment: an entry
names the variable (`<key>_env = "VAR"`), never the value."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from fleetlake.errors import InvalidParameter


def read_sources_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise InvalidParameter(
            "sources_file",
            f"no sources file at {path}: write one (see docs/telemetry.md, 'The worker') "
            "or point FLEETLAKE_SOURCES_FILE at yours",
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidParameter("sources_file", f"cannot read {path}: {exc}") from exc


def with_secrets(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """`<key>_env = "VAR"` → `<key> = os.environ["VAR"]`."""
    resolved = {}
    for key, value in entry.items():
        if key.endswith("_env"):
            if value not in os.environ:
                raise InvalidParameter(f"{where}.{key}", f"environment variable {value} is not set")
            resolved[key.removesuffix("_env")] = os.environ[value]
        else:
            resolved[key] = value
    return resolved


def refuse_unknown(values: dict[str, Any], known: set[str], where: str) -> None:
    """A typo in a key names the key and the keys there are."""
    unknown = sorted(set(values) - known)
    if unknown:
        keys = ", ".join(sorted(known))
        raise InvalidParameter(where, f"{where}: unknown key {unknown[0]!r} (known: {keys})")


def seconds(value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidParameter(where, f"{where}: {value!r} is not a number of seconds") from None


def require_keys(values: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if k not in values]
    if missing:
        raise InvalidParameter(where, f"{where}: needs {' and '.join(keys)}")
