"""The telemetry pages in headless Chromium: a pipeline run followed live, then the fleet
(table and map), a vehicle's day and the top speeds — each equal to what the API says."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fleetlake.simulate.telemetry_run import FleetSpec, write_files
from tests.conftest import API_KEY
from tests.e2e.conftest import Server, cli, running_server, screenshot, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser]
DAY = date(2026, 11, 16)


@pytest.fixture
def fleet_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, FLEETLAKE_LOOKBACK_S="0") as server:
        write_files(tmp_path / "drop", FleetSpec(6, 1, DAY, seed=8, interval_s=30))
        loaded = cli(server.env, "ingest", "telemetry", str(tmp_path / "drop"))
        assert loaded.returncode == 0, loaded.stderr
        yield server


def test_pipeline_fleet_vehicle_and_top_speed_pages(browser: Any, fleet_server: Server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    find, find_all = browser.find_element, browser.find_elements
    browser.get(fleet_server.url + "/#pipeline")
    wait_until(lambda: "on" in find(By.ID, "live").get_attribute("class"))
    browser.execute_script("window.__sameDocument = 'yes'")
    key = find(By.ID, "api-key")
    key.clear()
    key.send_keys(API_KEY)
    Select(find(By.ID, "pipeline-engine")).select_by_visible_text("duckdb")
    find(By.CSS_SELECTOR, "#pipeline-form button").click()

    def stages_done() -> bool:
        cells = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                 for tr in find_all(By.CSS_SELECTOR, "#pipeline-runs tbody tr")]  # fmt: skip
        return [c[1:4] for c in cells] == [["succeeded", "silver", "duckdb"],
                                           ["succeeded", "gold", "duckdb"]]  # fmt: skip

    wait_until(stages_done, timeout=60)
    screenshot(browser, "pipeline")
    assert browser.execute_script("return window.__sameDocument") == "yes"  # pushed, not reloaded
    with fleet_server.client() as client:
        [job] = client.get("/api/v1/jobs", params={"kind": "telemetry.pipeline"}).json()["data"]
        vehicles = client.get("/api/v1/vehicles").json()["data"]
        silver = job["results"][0]
        first = vehicles[0]
        series = client.get(f"/api/v1/vehicles/{first['vin']}/telemetry", params={
            "start": f"{DAY}T00:00:00Z", "end": f"{DAY}T23:59:59.999999Z",
            "fields": "speed_kmh,soc_pct", "every": 60}).json()["data"]  # fmt: skip
        top = client.get("/api/v1/reports/top-speeds", params={"date": str(DAY)}).json()["data"]
    row = find(By.CSS_SELECTOR, "#pipeline-runs tbody tr").find_elements(By.TAG_NAME, "td")
    assert row[4].text == f"{silver['rows_in']:,}" and row[5].text == f"{silver['rows_loaded']:,}"

    browser.get(fleet_server.url + "/#fleet")
    wait_until(lambda: len(find_all(By.CSS_SELECTOR, "#fleet tbody tr")) == len(vehicles))
    table = [
        tr.find_elements(By.TAG_NAME, "td") for tr in find_all(By.CSS_SELECTOR, "#fleet tbody tr")
    ]
    assert [cells[0].text for cells in table] == [v["vin"] for v in vehicles]
    values = [cells[3].find_element(By.CLASS_NAME, "value").text for cells in table]
    assert values == [f"{v['soc_pct']:.1f}" for v in vehicles]
    parked = [v for v in vehicles if v["seen_at"]["speed_kmh"] not in (None, v["last_ts"])]
    assert parked  # the simulated fleet has parked cars: their speed is hours old
    for cells, v in zip(table, vehicles, strict=True):  # an old speed is never shown as current
        stale = v in parked
        assert bool(cells[2].find_elements(By.CLASS_NAME, "stale")) == stale, (v, cells[2].text)
        if stale:
            assert cells[2].text.endswith("earlier)")
    dots = find_all(By.CSS_SELECTOR, "#fleet-map circle[data-vin]")
    placed = [v for v in vehicles if v["lat"] is not None]
    assert sorted(d.get_attribute("data-vin") for d in dots) == sorted(v["vin"] for v in placed)
    screenshot(browser, "fleet")
    assert_the_map_scale_is_true(browser, placed)
    west = min(placed, key=lambda v: v["lon"])["vin"]  # the westernmost dot is leftmost
    by_x = min(dots, key=lambda d: float(d.get_attribute("cx")))
    assert by_x.get_attribute("data-vin") == west

    browser.get(fleet_server.url + f"/#vehicle/{first['vin']}")
    wait_until(lambda: find_all(By.CSS_SELECTOR, "#vehicle-soc svg"))
    assert find(By.ID, "vehicle-day").get_attribute("value") == first["last_ts"][:10]
    soc = [r for r in series if r["soc_pct"] is not None]
    assert int(find(By.CSS_SELECTOR, "#vehicle-soc svg").get_attribute("data-points")) == len(soc)
    speeds = [r for r in series if r["speed_kmh"] is not None]
    chart = find_all(By.CSS_SELECTOR, "#vehicle-speed svg")
    assert (int(chart[0].get_attribute("data-points")) if chart else 0) == len(speeds)
    day = first["last_ts"][:10]
    soc_chart = find(By.CSS_SELECTOR, "#vehicle-soc svg")  # read without the page's headings
    axes = [t.text for t in soc_chart.find_elements(By.CSS_SELECTOR, "text.axis")]
    assert axes == ["%", f"hour of {day} (UTC)"]
    assert [t.text for t in soc_chart.find_elements(By.CSS_SELECTOR, "text.tick")] == [
        "0",
        "50",
        "100",
    ]
    hours = [t.text for t in soc_chart.find_elements(By.CSS_SELECTOR, "text.hour")]
    assert hours[0] == "00:00" and hours[-1] == "24:00"
    if chart:  # its scale holds the fastest moment of the day
        assert chart[0].find_element(By.CSS_SELECTOR, "text.axis").text == "km/h"
        assert float(chart[0].get_attribute("data-max")) >= max(r["speed_kmh"] for r in speeds)
    cells = [
        tr.find_elements(By.TAG_NAME, "td") for tr in find_all(By.CSS_SELECTOR, "#vehicle-state tr")
    ]
    state = {c[0].text: c[1].text for c in cells if c}
    screenshot(browser, "vehicle")
    with fleet_server.client() as client:
        daily = client.get(f"/api/v1/vehicles/{first['vin']}/daily", params={"end": str(DAY)})
    assert_vehicle_days_read_right(browser, daily.json()["data"])
    assert state["odometer_km"] == f"{first['odometer_km']:.3f}"

    browser.get(fleet_server.url + "/#top-speeds")
    wait_until(lambda: find_all(By.CSS_SELECTOR, "#top-speeds tbody tr"))
    assert find(By.ID, "top-day").get_attribute("value") == str(DAY)
    fastest = [r["speed_kmh"] for r in top if r["rank"] == 1]  # the chart: each hour's fastest
    bars = find_all(By.CSS_SELECTOR, "#top-chart svg rect")
    assert [float(b.get_attribute("data-value")) for b in bars] == fastest
    axes = [t.text for t in find_all(By.CSS_SELECTOR, "#top-chart text.axis")]
    assert axes == ["km/h", f"UTC hour of {DAY} (the fastest vehicle)"]
    shown = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")][1:4]
             for tr in find_all(By.CSS_SELECTOR, "#top-speeds tbody tr")]  # fmt: skip
    assert shown == [[str(r["rank"]), r["vin"], f"{r['speed_kmh']:.1f}"] for r in top]
    busiest = max(
        {r["hour"][11:13] for r in top}, key=lambda h: sum(r["hour"][11:13] == h for r in top)
    )
    Select(find(By.ID, "top-hour")).select_by_value(str(int(busiest)))
    find(By.CSS_SELECTOR, "#top-form button").click()
    ranked = [r for r in top if r["hour"][11:13] == busiest]
    assert len(ranked) > 1
    wait_until(lambda: len(find_all(By.CSS_SELECTOR, "#top-speeds tbody tr")) == len(ranked))
    screenshot(browser, "top-speeds")
    assert_top_speeds_chart_and_reports(browser, fleet_server, ranked)


def assert_the_map_scale_is_true(browser: Any, placed: list[dict[str, Any]]) -> None:
    """The scale bar's km agree with the great-circle distance of the two farthest vehicles."""
    from selenium.webdriver.common.by import By

    scale = browser.find_element(By.CSS_SELECTOR, "#fleet-map g.scale")
    km_per_unit = float(scale.get_attribute("data-km")) / float(scale.get_attribute("data-px"))
    assert scale.text.endswith(" km") or scale.text.endswith(" m")
    dots = {
        d.get_attribute("data-vin"): d
        for d in browser.find_elements(By.CSS_SELECTOR, "#fleet-map circle[data-vin]")
    }
    at = {v["vin"]: (v["lat"], v["lon"]) for v in placed}
    a, b = max(
        itertools.combinations(at, 2), key=lambda pair: great_circle_km(at[pair[0]], at[pair[1]])
    )
    drawn = math.dist(
        *((float(dots[v].get_attribute("cx")), float(dots[v].get_attribute("cy"))) for v in (a, b))
    )
    assert drawn * km_per_unit == pytest.approx(great_circle_km(at[a], at[b]), rel=0.01)


def great_circle_km(one: tuple[float, float], other: tuple[float, float]) -> float:
    (lat1, lon1), (lat2, lon2) = (tuple(map(math.radians, p)) for p in (one, other))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def assert_vehicle_days_read_right(browser: Any, daily: list[dict[str, Any]]) -> None:
    from selenium.webdriver.common.by import By

    assert daily and daily[-1]["date"] == str(DAY)
    for chart, field, unit in (("#vehicle-distance", "distance_km", "km"),
                               ("#vehicle-energy", "energy_used_kwh", "kWh used")):  # fmt: skip
        rects = browser.find_elements(By.CSS_SELECTOR, f"{chart} svg rect")
        known = [d[field] for d in daily if d[field] is not None]  # unknown: no bar, not 0
        assert [float(r.get_attribute("data-value")) for r in rects] == known
        values = [t.text for t in browser.find_elements(By.CSS_SELECTOR, f"{chart} text.value")]
        assert values == [f"{value:.1f}" for value in known]
        axis = browser.find_elements(By.CSS_SELECTOR, f"{chart} text.axis")[0].text
        assert axis == unit
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#vehicle-days tbody tr")]  # fmt: skip
    fields = ("distance_km", "energy_used_kwh", "energy_added_kwh")
    assert [r[:4] for r in rows] == [[d["date"], *(f"{d[f]:.1f}" for f in fields)] for d in daily]


def assert_top_speeds_chart_and_reports(
    browser: Any, server: Server, hour: list[dict[str, Any]]
) -> None:
    """One hour chosen: its ranking as bars; the report links fetch the day's CSV and page."""
    from selenium.webdriver.common.by import By

    bars = browser.find_elements(By.CSS_SELECTOR, "#top-chart svg rect")
    assert [float(b.get_attribute("data-value")) for b in bars] == [r["speed_kmh"] for r in hour]
    links = {
        a: browser.find_element(By.ID, a).get_attribute("href") for a in ("top-csv", "top-html")
    }
    report = f"{server.url}/api/v1/reports/top-speeds"
    assert links == {"top-csv": f"{report}.csv?date={DAY}", "top-html": f"{report}.html?date={DAY}"}
    with server.client() as client:
        lines = client.get(links["top-csv"]).text.splitlines()
        page = client.get(links["top-html"]).text
    assert lines[0] == "hour,rank,vin,speed_kmh,ts,lat,lon" and "top speeds" in page.lower()
    hour_of = hour[0]["hour"][:13]
    assert sum(1 for line in lines[1:] if line.startswith(hour_of)) == len(hour)


def test_a_failed_run_shows_why_on_the_pipeline_page(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    feed = tmp_path / "feed.ndjson"
    feed.write_text('{"vin": "5YJSA1111111111A", "ts": "2026-11-16T08:00:00Z", "speed_kmh": 50}\n')
    with running_server(tmp_path) as server, server.client() as client:
        for command in (("ingest", "telemetry", str(feed)), ("telemetry", "compact")):
            assert cli(server.env, *command).returncode == 0
        [compacted] = (server.home / "lake" / "bronze" / "telemetry").glob("date=*/*.parquet")
        compacted.write_bytes(compacted.read_bytes()[:40])  # a disk that lost the file's end
        job = client.post("/api/v1/pipeline/runs", json={}).json()
        wait_until(lambda: client.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "failed")
        error = client.get(f"/api/v1/jobs/{job['id']}").json()["error"]
        browser.get(server.url + "/#pipeline")
        shown = f"#pipeline-runs tr[data-run-error='{job['id']}']"
        wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, shown))
        assert browser.find_element(By.CSS_SELECTOR, shown).text == f"why: {error}"
        where = str(compacted).replace(str(server.home), "<home>")  # no server layout
        assert error.startswith(f"stage silver: file {where}: ")
        screenshot(browser, "pipeline-failed")


def test_refused_messages_are_browsable_with_their_reasons(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    from tests.e2e.test_bad_input import QUARANTINED, TELEMETRY

    with running_server(tmp_path) as server, server.client() as client:
        pushed = client.post("/api/v1/telemetry", content=TELEMETRY.read_bytes(),
                             headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
        assert pushed.json()["rows_quarantined"] == len(QUARANTINED)
        page = client.get("/api/v1/telemetry/quarantine").json()
        assert page["total"] == len(QUARANTINED) and page["days"] == [page["date"]]
        browser.get(server.url + "/#refused")
        rows = "#refused tbody tr"
        wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, rows)) == len(QUARANTINED))
        shown = {
            int(cells[2].text): cells[3].text
            for cells in (
                tr.find_elements(By.TAG_NAME, "td")
                for tr in browser.find_elements(By.CSS_SELECTOR, rows)
            )
        }
        assert sorted(shown) == sorted(QUARANTINED)
        for line, words in QUARANTINED.items():
            assert words in shown[line], (line, shown[line])
        raw = [tr.find_elements(By.TAG_NAME, "td")[4].text
               for tr in browser.find_elements(By.CSS_SELECTOR, rows)]  # fmt: skip
        assert not any("TelemetryRecord(" in text for text in raw)  # what was received, as JSON
        counted = browser.find_element(By.ID, "refused-count").text
        assert counted == f"· {len(QUARANTINED)} on {page['date']}"
        screenshot(browser, "refused")
