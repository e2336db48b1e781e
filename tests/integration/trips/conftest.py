"""Helpers for trips ingestion tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fleetlake.trips import ingest


@pytest.fixture
def crash_commit(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], Callable[[], None]]:
    """`crash_commit(n)` makes the n-th chunk commit fail; call the result to heal it."""

    def arm(n: int) -> Callable[[], None]:
        real_commit = ingest.commit_chunk
        calls = {"n": 0}

        def failing(*args: Any, **kwargs: Any) -> None:
            calls["n"] += 1
            if calls["n"] == n:
                raise OSError("the disk went away")
            real_commit(*args, **kwargs)

        monkeypatch.setattr(ingest, "commit_chunk", failing)
        return lambda: monkeypatch.setattr(ingest, "commit_chunk", real_commit)

    return arm


@pytest.fixture
def chunk_bytes(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    def set_size(size: int) -> None:
        from fleetlake.settings import get_settings

        monkeypatch.setenv("FLEETLAKE_CHUNK_BYTES", str(size))
        get_settings.cache_clear()

    return set_size
