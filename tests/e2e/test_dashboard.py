"""The dashboard in headless Chromium updates live during an ingestion, without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetlake.simulate.trips import simulate_trips
from tests.e2e.conftest import Server, running_server, screenshot, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, FLEETLAKE_CHUNK_BYTES="60000") as server:
        yield server


def test_ingestion_page_updates_live(browser: Any, sqlite_server: Server) -> None:
    from selenium.webdriver.common.by import By

    source = simulate_trips(rows=80_000, out=sqlite_server.home / "data" / "drop" / "t.csv", seed=5)
    browser.get(sqlite_server.url + "/#ingestion")
    wait_until(lambda: "on" in browser.find_element(By.ID, "live").get_attribute("class"))
    browser.execute_script("window.__sameDocument = 'yes'")

    with sqlite_server.client() as client:
        accepted = client.post("/api/v1/ingestions", json={"sources": [str(source.path)]})
    assert accepted.status_code == 202

    seen_while_running: list[int] = []

    def running_with_rows() -> bool:
        state = browser.find_element(By.ID, "job-state").text
        rows = int(browser.find_element(By.ID, "job-rows").get_attribute("data-rows") or 0)
        if state == "running" and 0 < rows < source.rows:
            seen_while_running.append(rows)
        return len(set(seen_while_running)) >= 2

    wait_until(running_with_rows, timeout=60, interval=0.02)
    wait_until(lambda: browser.find_element(By.ID, "job-state").text == "succeeded", timeout=120)
    assert browser.execute_script("return window.__sameDocument") == "yes"
    cells = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#job-results tbody td")]
    assert cells[:3] == ["t.csv", "loaded", f"{source.rows:,}"]
    assert seen_while_running == sorted(seen_while_running)
    screenshot(browser, "ingestion")

    browser.get(sqlite_server.url + "/#trips")
    browser.find_element(By.ID, "avg-region").send_keys("Turin")
    browser.find_element(By.CSS_SELECTOR, "#average-form button").click()
    wait_until(lambda: browser.find_elements(By.ID, "avg-value"))
    expected = client_average(sqlite_server, "Turin")
    assert browser.find_element(By.ID, "avg-value").text == f"{expected:.2f}"
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#groups tbody tr"))
    screenshot(browser, "trips")
    assert_groups_are_drawn_as_lines(browser, sqlite_server)
    assert_weekly_charts_read_right(browser, sqlite_server)


def assert_weekly_charts_read_right(browser: Any, server: Server) -> None:
    """Every region on one scale, its values shown over its bars, axes named with the unit
    and the year, colours apart for colour-blind readers, and the filters applied."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with server.client() as client:
        weeks = client.get("/api/v1/trips/weekly-counts").json()["data"]
    charts = browser.find_elements(By.CSS_SELECTOR, "#weekly-chart svg")
    regions = sorted({w["region"] for w in weeks})
    assert len(charts) == len(regions) > 1
    scales = {int(chart.get_attribute("data-max")) for chart in charts}
    assert len(scales) == 1 and scales.pop() >= max(w["trips"] for w in weeks)  # one scale
    first = [w for w in weeks if w["region"] == regions[0]]
    values = [int(t.text.replace(",", "")) for t in charts[0].find_elements(By.CLASS_NAME, "value")]
    assert values == [w["trips"] for w in first]
    axes = [t.text for t in charts[0].find_elements(By.CLASS_NAME, "axis")]
    assert axes == ["trips per week", f"ISO week of {first[0]['year']}"]
    fills = {c.find_element(By.TAG_NAME, "rect").get_attribute("fill") for c in charts}
    assert len(fills) == len(regions) and fills <= OKABE_ITO
    Select(browser.find_element(By.ID, "weekly-region")).select_by_visible_text(regions[-1])
    browser.find_element(By.ID, "weekly-from").send_keys("05/14/2018")  # Chromium's date field
    browser.find_element(By.CSS_SELECTOR, "#weekly-form button").click()
    shown = browser.find_elements(By.CSS_SELECTOR, "#weekly-chart svg")
    assert len(shown) == 1  # the region asked for, from week 20 (Monday 2018-05-14) on
    bars = [int(r.get_attribute("data-value")) for r in shown[0].find_elements(By.TAG_NAME, "rect")]
    later = [
        w["trips"]
        for w in weeks
        if w["region"] == regions[-1] and (w["year"], w["week"]) >= (2018, 20)
    ]
    assert bars == later
    screenshot(browser, "trips-filtered")


def assert_groups_are_drawn_as_lines(browser: Any, server: Server) -> None:
    """A map per region; each group a line numbered as its table row, from its origin to
    its destination (west-east and north-south as on the ground), wider for more trips."""
    from selenium.webdriver.common.by import By

    with server.client() as client:
        groups = client.get("/api/v1/trip-groups", params={"limit": 10}).json()["data"]
    maps = browser.find_elements(By.CSS_SELECTOR, "#groups-map figure")
    screenshot(browser, "trip-groups", browser.find_element(By.ID, "groups-map"))
    assert [m.get_attribute("data-region") for m in maps] == list(
        dict.fromkeys(g["region"] for g in groups)
    )
    drawn = {
        int(g.get_attribute("data-group")): g
        for g in browser.find_elements(By.CSS_SELECTOR, "#groups-map g.group")
    }
    assert sorted(drawn) == list(range(1, len(groups) + 1))
    for n, group in enumerate(groups, start=1):
        line = drawn[n].find_element(By.TAG_NAME, "line")
        x1, y1, x2, y2 = (float(line.get_attribute(a)) for a in ("x1", "y1", "x2", "y2"))
        east = group["destination"]["lon"] - group["origin"]["lon"]
        north = group["destination"]["lat"] - group["origin"]["lat"]
        assert (x2 - x1) * east >= 0 and (y1 - y2) * north >= 0, (n, group)
        assert int(drawn[n].get_attribute("data-trips")) == group["trips"]
    widths = [
        float(drawn[n].find_element(By.TAG_NAME, "line").get_attribute("stroke-width"))
        for n in sorted(drawn)
    ]
    assert widths == sorted(widths, reverse=True)  # the API ranks by trips: widest first
    for figure in maps:
        assert figure.find_element(By.CSS_SELECTOR, "g.scale text").text.endswith("m")


OKABE_ITO = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}


def client_average(server: Server, region: str) -> float:
    with server.client() as client:
        value: float = client.get("/api/v1/trips/weekly-average", params={"region": region}).json()[
            "weekly_average"
        ]
    return value
