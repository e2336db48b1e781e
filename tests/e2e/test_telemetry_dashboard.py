"""The telemetry pages in headless Chromium: a pipeline run followed live, then the fleet
(table and map), a vehicle's day and the top speeds — each equal to what the API says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fleetlake.simulate.telemetry_run import FleetSpec, write_files
from tests.conftest import API_KEY
from tests.e2e.conftest import Server, cli, running_server
from tests.e2e.test_dashboard import browser, wait_until  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.slow, pytest.mark.browser]
DAY = date(2026, 11, 16)


@pytest.fixture
def fleet_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, FLEETLAKE_LOOKBACK_S="0") as server:
        write_files(tmp_path / "drop", FleetSpec(6, 1, DAY, seed=8, interval_s=30))
        loaded = cli(server.env, "ingest", "telemetry", str(tmp_path / "drop"))
        assert loaded.returncode == 0, loaded.stderr
        yield server


def test_pipeline_fleet_vehicle_and_top_speed_pages(browser: Any, fleet_server: Server) -> None:  # noqa: F811
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
    Path(fleet_server.home.parent / "fleet.png").write_bytes(browser.get_screenshot_as_png())
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
    Path(fleet_server.home.parent / "vehicle.png").write_bytes(browser.get_screenshot_as_png())
    assert state["odometer_km"] == f"{first['odometer_km']:.3f}"

    browser.get(fleet_server.url + "/#top-speeds")
    wait_until(lambda: find_all(By.CSS_SELECTOR, "#top-speeds tbody tr"))
    assert find(By.ID, "top-day").get_attribute("value") == str(DAY)
    shown = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")][1:4]
             for tr in find_all(By.CSS_SELECTOR, "#top-speeds tbody tr")]  # fmt: skip
    assert shown == [[str(r["rank"]), r["vin"], f"{r['speed_kmh']:.1f}"] for r in top]
    Select(find(By.ID, "top-hour")).select_by_value("12")
    find(By.CSS_SELECTOR, "#top-form button").click()
    noon = [r for r in top if r["hour"][11:13] == "12"]
    wait_until(lambda: len(find_all(By.CSS_SELECTOR, "#top-speeds tbody tr")) == max(len(noon), 1))
    Path(fleet_server.home.parent / "top-speeds.png").write_bytes(browser.get_screenshot_as_png())


def test_a_failed_run_shows_why_on_the_pipeline_page(browser: Any, tmp_path: Path) -> None:  # noqa: F811
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
        Path(tmp_path / "pipeline-failed.png").write_bytes(browser.get_screenshot_as_png())


def test_refused_messages_are_browsable_with_their_reasons(browser: Any, tmp_path: Path) -> None:  # noqa: F811
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
        Path(tmp_path / "refused.png").write_bytes(browser.get_screenshot_as_png())
