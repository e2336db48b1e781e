"""Polling the simulated provider API over real HTTP: OAuth2, pages, retries, budget, crash."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fleetlake.errors import SourceRejected
from fleetlake.platform.lake import Lake
from fleetlake.simulate.telemetry_api import telemetry_api
from fleetlake.simulate.telemetry_faults import NO_FAULTS
from fleetlake.simulate.telemetry_run import FleetSpec, simulated_days
from fleetlake.telemetry import bronze
from fleetlake.telemetry.bronze import BronzeBuffers
from fleetlake.telemetry.polling import HttpSource, Poll, state_parts
from tests.served import ServedApp

SECRET = "s3cret"


@pytest.fixture(scope="module")
def messages() -> pa.Table:
    spec = FleetSpec(2, 1, date(2026, 11, 16), seed=4, interval_s=60, rates=NO_FAULTS)
    [(_, _, delivered, _)] = simulated_days(spec)
    return delivered


class Provider(ServedApp):
    def __init__(self, messages: pa.Table, fail_every: int) -> None:
        super().__init__(
            telemetry_api(
                messages, client_id="fleetlake", client_secret=SECRET, fail_every=fail_every
            )
        )

    def source(self, **options: Any) -> HttpSource:
        base = f"http://127.0.0.1:{self.port}"
        return HttpSource(
            name="fleet",
            url=f"{base}/api/v1/telemetry",
            token_url=f"{base}/oauth/token",
            client_id="fleetlake",
            client_secret=SECRET,
            page_size=500,
            **options,
        )


@pytest.fixture
def provider(messages: pa.Table) -> Iterator[Provider]:
    running = Provider(messages, fail_every=4)
    yield running
    running.stop()


def poll(lake: Lake, source: HttpSource) -> dict[str, Any]:
    return Poll(source, lake, BronzeBuffers(lake), allow_private=True, sleep=lambda s: None).run()


def landed(lake: Lake) -> int:
    return sum(pq.read_metadata(f).num_rows for f in lake.list_files(*bronze.BUFFER))


def test_pages_with_oauth_and_retries_then_nothing_new(
    provider: Provider, tmp_path: Path, messages: pa.Table
) -> None:
    lake = Lake(str(tmp_path))
    first = poll(lake, provider.source())
    assert first["status"] == "done" and first["rows_loaded"] == messages.num_rows == 2880
    assert first["pages"] == 6 and landed(lake) == 2880  # 5 full pages and the empty end
    assert first["cursor"] == 2880
    again = poll(lake, provider.source())
    assert (again["rows_loaded"], again["pages"]) == (0, 1) and landed(lake) == 2880
    assert provider.app.state.calls["n"] == first["calls"] + again["calls"]  # retries counted


def test_the_daily_budget_is_never_passed(provider: Provider, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    source = provider.source(calls_per_day=3)
    first = poll(lake, source)
    assert first["status"] == "budget exhausted" and first["calls"] == 3
    second = poll(lake, source)
    assert second["status"] == "budget exhausted" and second["calls"] == 0
    assert provider.app.state.calls["n"] == 3
    assert list(lake.read_json(*state_parts("fleet"))["calls"].values()) == [3]


def test_a_crash_before_a_page_is_durable_rereads_it(
    provider: Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(str(tmp_path))
    flushes = {"n": 0}
    real = BronzeBuffers.flush_all

    def dies_on_the_third(self: BronzeBuffers) -> int:
        flushes["n"] += 1
        if flushes["n"] == 3:
            raise OSError("killed")
        return real(self)

    monkeypatch.setattr(BronzeBuffers, "flush_all", dies_on_the_third)
    with pytest.raises(OSError):
        poll(lake, provider.source())
    assert lake.read_json(*state_parts("fleet"))["cursor"] == 1000  # two pages durable
    monkeypatch.setattr(BronzeBuffers, "flush_all", real)
    poll(lake, provider.source())
    assert landed(lake) == 2880  # nothing skipped, nothing twice


def test_per_vehicle_mode_and_private_addresses(
    provider: Provider, tmp_path: Path, messages: pa.Table
) -> None:
    lake = Lake(str(tmp_path))
    vins = tuple(sorted(set(messages["vin"].to_pylist())))
    base = provider.source().url.rsplit("/telemetry", 1)[0]
    source = replace(
        provider.source(), mode="per_vehicle", vins=vins, url=f"{base}/vehicles/{{vin}}/latest"
    )
    result = poll(lake, source)
    assert result["rows_loaded"] == 2 and landed(lake) == 2
    with pytest.raises(SourceRejected, match="non-public address"):
        Poll(source, lake, BronzeBuffers(lake)).run()
