"""Polling the simulated Omnia-shaped timeseries API over real HTTP: OAuth2, pages by
continuation token, retries, the budget, bad-quality datapoints and a crash mid-poll."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import Engine

from fleetlake.errors import InvalidParameter
from fleetlake.monitoring import catalog, landing
from fleetlake.monitoring import omnia as omnia_module
from fleetlake.monitoring.omnia import OmniaPoll, OmniaSource, state_parts, unit_factor
from fleetlake.monitoring.series import readings_between
from fleetlake.monitoring.settings import MonitoringSettings
from fleetlake.platform.http_poll import ApiAccess
from fleetlake.platform.lake import Lake
from fleetlake.simulate.monitoring import simulate_site, site_timeseries
from fleetlake.simulate.omnia_api import BASE, Timeseries, omnia_api
from tests.served import ServedApp

SECRET = "s3cret"
START = datetime(2026, 11, 1, tzinfo=UTC)
NOW = START + timedelta(days=1.5)


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[Timeseries]]:
    out = tmp_path_factory.mktemp("site")
    site = simulate_site(out, templates=1, sensors=3, days=1.5, period_s=120, leaks=0,
                         start=START, seed=3)  # fmt: skip
    return json.loads(site.model.read_text()), site_timeseries(site.readings, bad_share=0.01)


@pytest.fixture
def served(series: tuple[dict[str, Any], list[Timeseries]]) -> Iterator[ServedApp]:
    app = omnia_api(series[1], client_id="fleetlake", client_secret=SECRET, fail_every=7)
    running = ServedApp(app)
    yield running
    running.stop()


@pytest.fixture
def model(engine: Engine, series: tuple[dict[str, Any], list[Timeseries]]) -> dict[str, int]:
    with engine.begin() as connection:
        catalog.load_model(connection, model=series[0], settings=MonitoringSettings(), now=NOW)
        return {s["source_id"]: s["id"] for s in catalog.list_sensors(connection)}


def source(served: ServedApp, **access: Any) -> OmniaSource:
    given = {"token_url": f"{served.url}/oauth/token", "client_id": "fleetlake",
             "client_secret": SECRET, "scope": "omnia/.default"} | access  # fmt: skip
    return OmniaSource(name="omnia", url=served.url + BASE, page_size=400, since_days=2,
                       access=ApiAccess(name="omnia", **given))  # fmt: skip


def poll(engine: Engine, lake: Lake, polled: OmniaSource) -> dict[str, Any]:
    return OmniaPoll(polled, engine, lake, allow_private=True, sleep=lambda s: None).run(now=NOW)


def silver(lake: Lake, sensor_id: int) -> list[tuple[datetime, float]]:
    table = readings_between(lake, sensor_id=sensor_id, start=START, end=NOW)
    return list(zip(table["ts"].to_pylist(), table["ppmv"].to_pylist(), strict=True))


def served_good(one: Timeseries) -> list[tuple[datetime, float]]:
    return [(t, v) for t, v, s in zip(one.times, one.values, one.statuses, strict=True)
            if s == 192 and t < NOW]  # fmt: skip


def test_every_good_datapoint_lands_once_and_bad_quality_is_quarantined(
    engine: Engine, settings: Any, served: ServedApp, model: dict[str, int],
    series: tuple[dict[str, Any], list[Timeseries]],
) -> None:  # fmt: skip
    lake = Lake(settings.resolved_lake_uri)
    first = poll(engine, lake, source(served))
    bad = sum(s == 0 for one in series[1] for s in one.statuses)
    good = sum(len(served_good(one)) for one in series[1])
    assert first["status"] == "done" and first["errors"] == []
    assert (first["rows_loaded"], first["rows_quarantined"]) == (good, bad) and bad > 0
    for one in series[1]:
        assert silver(lake, model[one.id]) == served_good(one)  # times to the ms, values exact
    assert first["pages"] > 3 * 2  # each sensor's day and a half took several pages
    kept = landing.quarantined(lake, day=None, after=0, limit=500)
    assert {q["reason"] for q in kept["data"]} == {"Omnia status 0 is not good (192)"}
    again = poll(engine, lake, source(served))
    assert (again["rows_loaded"], again["rows_quarantined"]) == (0, 0)
    assert again["pages"] == 3  # one page per sensor: nothing new, units remembered
    assert served.app.state.calls["n"] == first["calls"] + again["calls"]  # retries counted


def test_the_daily_budget_is_never_passed(
    engine: Engine, settings: Any, served: ServedApp, model: dict[str, int]
) -> None:
    lake = Lake(settings.resolved_lake_uri)
    first = poll(engine, lake, source(served, calls_per_day=4))
    assert first["status"] == "budget exhausted" and first["calls"] == 4
    assert poll(engine, lake, source(served, calls_per_day=4))["calls"] == 0
    assert served.app.state.calls["n"] == 4
    assert list(lake.read_json(*state_parts("omnia"))["calls"].values()) == [4]


def test_a_crash_mid_poll_resumes_without_losses_or_repeats(
    engine: Engine, settings: Any, served: ServedApp, model: dict[str, int],
    series: tuple[dict[str, Any], list[Timeseries]], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    lake = Lake(settings.resolved_lake_uri)
    real, landed = omnia_module.land_readings, {"n": 0}

    def dies_on_the_fifth_page(*args: Any, **kwargs: Any) -> dict[str, Any]:
        landed["n"] += 1
        if landed["n"] == 5:
            raise OSError("the process died")
        return real(*args, **kwargs)

    monkeypatch.setattr(omnia_module, "land_readings", dies_on_the_fifth_page)
    with pytest.raises(OSError):
        poll(engine, lake, source(served))
    monkeypatch.setattr(omnia_module, "land_readings", real)
    resumed = poll(engine, lake, source(served))
    assert resumed["rows_quarantined"] < sum(s == 0 for one in series[1] for s in one.statuses)
    for one in series[1]:
        assert silver(lake, model[one.id]) == served_good(one)
    files = lake.list_files(*landing.SILVER)
    assert sum(pq.read_metadata(f).num_rows for f in files) == sum(
        len(served_good(one)) for one in series[1]
    )  # not one reading stored twice


def test_units_are_converted_to_ppmv_and_an_unknown_one_is_named() -> None:
    assert unit_factor("ppm", timeseries="a") == 1.0
    assert unit_factor("% V/V", timeseries="a") == 1e4 and unit_factor(None, timeseries="a") == 1
    with pytest.raises(InvalidParameter, match="timeseries a: unit 'degC'"):
        unit_factor("degC", timeseries="a")


def test_a_timeseries_in_an_unknown_unit_is_skipped_with_the_reason(
    engine: Engine, settings: Any, tmp_path: Path, model: dict[str, int],
    series: tuple[dict[str, Any], list[Timeseries]],
) -> None:  # fmt: skip
    odd = [Timeseries(one.id, one.name, "degC" if k == 0 else "% v/v", one.times[:50],
                      [v / 1e4 for v in one.values[:50]], [192] * 50)
           for k, one in enumerate(series[1])]  # fmt: skip
    running = ServedApp(omnia_api(odd, client_id="fleetlake", client_secret=SECRET))
    try:
        lake = Lake(settings.resolved_lake_uri)
        found = poll(engine, lake, source(running))
    finally:
        running.stop()
    assert (
        len(found["errors"]) == 1 and f"timeseries {odd[0].id}: unit 'degC'" in found["errors"][0]
    )
    assert found["rows_loaded"] == 100
    second = silver(lake, model[odd[1].id])
    assert [round(v, 9) for _, v in second] == [round(v, 9) for v in series[1][1].values[:50]]


def test_a_source_that_does_not_answer_fails_the_poll_naming_its_url(
    engine: Engine, settings: Any, model: dict[str, int]
) -> None:
    from fleetlake.errors import Unreachable
    from tests.e2e.conftest import free_port

    polled = OmniaSource(name="omnia", url=f"http://127.0.0.1:{free_port()}{BASE}",
                         access=ApiAccess(name="omnia", max_retries=1))  # fmt: skip
    with pytest.raises(Unreachable, match=f"omnia: cannot reach {polled.url}/sim-T1-S1 "):
        poll(engine, Lake(settings.resolved_lake_uri), polled)
