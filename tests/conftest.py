"""Shared fixtures: a fresh home per test, and the serving database on SQLite and PostgreSQL.

PostgreSQL tests use the local server (database `test`) in a schema of their own. Under
CI=true they must run: a missing server fails them instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

# No per-example deadline: a timing limit flakes on a shared machine (first calls warm up).
settings.register_profile("fleetlake", deadline=None)
settings.load_profile("fleetlake")

# numba's compiled code (stumpy's: half a minute a process) kept across test runs and workers
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).parents[1] / ".cache" / "numba"))

DATA = Path(__file__).parent / "data"
SAMPLE_TRIPS = DATA / "trips" / "trips.csv"
PG_URL = os.environ.get(
    "FLEETLAKE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
API_KEY = "test-key-0123456789"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_service(name: str, reason: str) -> None:
    if in_ci():
        pytest.fail(f"{name} is required under CI=true: {reason}")
    pytest.skip(f"{name} not available: {reason}")


def require_mosquitto() -> None:
    """The local Mosquitto (127.0.0.1:1883) answers, or the test fails (CI) or skips."""
    import socket

    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=2).close()
    except OSError as exc:
        require_service("Mosquitto", f"127.0.0.1:1883: {exc}")


def postgres_available() -> str | None:
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A migrated PostgreSQL schema of its own, dropped afterwards; yields its URL."""
    problem = postgres_available()
    if problem:
        require_service("PostgreSQL", problem)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    from fleetlake.platform.db import create_db_engine, dispose_engines, upgrade

    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        dispose_engines()
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty serving database on each dialect."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fleetlake.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """PostgreSQL only, for what only PostgreSQL does (LISTEN/NOTIFY, schema refusal)."""
    with postgres_schema() as url:
        yield url


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """FLEETLAKE_* reset to a fresh home under tmp_path, with one API key."""
    for name in list(os.environ):
        if name.startswith("FLEETLAKE_") and name != "FLEETLAKE_TEST_PG_URL":
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("FLEETLAKE_HOME", str(home))
    monkeypatch.setenv("FLEETLAKE_API_KEYS", API_KEY)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def settings(home: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from fleetlake.platform.db import dispose_engines
    from fleetlake.settings import get_settings

    monkeypatch.setenv("FLEETLAKE_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture
def engine(settings: object) -> sa.Engine:
    from fleetlake.platform.db import get_engine
    from fleetlake.settings import get_settings

    return get_engine(get_settings().resolved_database_url)
