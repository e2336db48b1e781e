"""Monitoring fixtures: a client of the app with its real lifespan, on each database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY

AUTH = {"X-API-Key": API_KEY}


@pytest.fixture
def client(settings: Any) -> Iterator[TestClient]:
    from fleetlake.api.app import create_app
    from fleetlake.settings import get_settings

    get_settings.cache_clear()
    with TestClient(create_app()) as found:
        yield found
