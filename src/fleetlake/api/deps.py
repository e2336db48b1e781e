"""Dependency aliases shared by every router.

The small ones are `async def`: FastAPI would run a plain `def` on a worker thread, one
thread hop per dependency per request.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Header, Path, Query, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.engine import Connection, Engine

from fleetlake.errors import Unauthorized
from fleetlake.platform.jobs import JobRunner
from fleetlake.platform.lake import Lake
from fleetlake.settings import Settings


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine_dep(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_runner(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.runner
    return runner


# Integers in paths, queries and headers are bounded by the columns they are compared with:
# past them a database answers an error (a 500) instead of "no such row".
MAX_INT32 = 2**31 - 1  # jobs, webhooks: integer ids on PostgreSQL
MAX_INT64 = 2**63 - 1  # trips, events, quarantine rows: bigint ids, and SQLite's largest
JobId = Annotated[int, Path(ge=1, le=MAX_INT32, description="A job's id")]
WebhookId = Annotated[int, Path(ge=1, le=MAX_INT32, description="A webhook's id")]
TripId = Annotated[int, Path(ge=1, le=MAX_INT64, description="A trip's id")]
Cursor = Annotated[int, Query(ge=0, le=MAX_INT64, description="The previous page's next_after")]
_RESUME = Header(alias="Last-Event-ID", ge=0, le=MAX_INT64, description="Resume after this event")
LastEventId = Annotated[int, _RESUME]
# `LastEventId | None` would drop the Header marker (a query parameter); hence its own alias.
OptionalLastEventId = Annotated[int | None, _RESUME]

SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[Engine, Depends(get_engine_dep)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]


def get_connection(engine: EngineDep) -> Iterator[Connection]:
    with engine.connect() as connection:
        yield connection


ConnDep = Annotated[Connection, Depends(get_connection)]
T = TypeVar("T")


@dataclass
class Reads:
    """Runs a whole read (check out, query, release) in one worker-thread hop, on a few
    threads of its own: under load, more threads than cores only fight over the GIL (seen on
    SQLite at 1 M trips: 2 threads answered the weekly average 2.3x faster than 40, with a
    third of the p99)."""

    engine: Engine
    limiter: anyio.CapacityLimiter
    options: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        # Autocommit: no BEGIN and ROLLBACK around a read, two round trips fewer on
        # PostgreSQL; SQLite's driver begins no transaction for a SELECT anyway.
        postgres = self.engine.dialect.name == "postgresql"
        self.options = {"isolation_level": "AUTOCOMMIT"} if postgres else {}

    async def __call__(self, read: Callable[[Connection], T]) -> T:
        def in_connection() -> T:
            with self.engine.connect().execution_options(**self.options) as connection:
                return read(connection)

        return await anyio.to_thread.run_sync(in_connection, limiter=self.limiter)


async def get_reads(request: Request) -> Reads:
    reads: Reads = request.app.state.reads
    return reads


ReadsDep = Annotated[Reads, Depends(get_reads)]


async def get_lake(request: Request) -> Lake:
    lake: Lake = request.app.state.lake
    return lake


LakeDep = Annotated[Lake, Depends(get_lake)]


def key_is_valid(settings: Settings, key: str | None) -> bool:
    """Constant-time comparison against every configured key."""
    if not key:
        return False
    matches = [hmac.compare_digest(key.encode(), k.encode()) for k in settings.api_keys]
    return any(matches)


# The key as a security scheme, not a parameter; two names so that api/openapi.py can tell
# writes (always secured) from reads (secured when FLEETLAKE_READ_REQUIRES_KEY).
WRITE_SCHEME, READ_SCHEME = "ApiKey", "ApiKeyForReads"
WriteKeyHeader = Annotated[
    str | None, Security(APIKeyHeader(name="X-API-Key", scheme_name=WRITE_SCHEME, auto_error=False))
]
ReadKeyHeader = Annotated[
    str | None, Security(APIKeyHeader(name="X-API-Key", scheme_name=READ_SCHEME, auto_error=False))
]


async def require_write_key(settings: SettingsDep, x_api_key: WriteKeyHeader = None) -> None:
    if not settings.api_keys:
        raise Unauthorized("writes are disabled: no API key is configured (set FLEETLAKE_API_KEYS)")
    if not key_is_valid(settings, x_api_key):
        raise Unauthorized("missing or wrong X-API-Key header", field="X-API-Key")


async def require_read_key(settings: SettingsDep, x_api_key: ReadKeyHeader = None) -> None:
    if settings.read_requires_key and not key_is_valid(settings, x_api_key):
        raise Unauthorized("reads need an API key here: send X-API-Key", field="X-API-Key")


WriteKey = Depends(require_write_key)
ReadKey = Depends(require_read_key)
