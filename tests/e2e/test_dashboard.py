"""The dashboard in headless Chromium updates live during an ingestion, without a reload."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetlake.simulate.trips import simulate_trips
from tests.conftest import require_service
from tests.e2e.conftest import Server, running_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture
def browser() -> Iterator[Any]:
    paths = chromium_paths()
    if paths is None:
        require_service("Chromium", "install Debian's chromium and chromium-driver packages")
        return
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=paths[1]))
    try:
        yield driver
    finally:
        driver.quit()


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

    browser.get(sqlite_server.url + "/#trips")
    browser.find_element(By.ID, "avg-region").send_keys("Turin")
    browser.find_element(By.CSS_SELECTOR, "#average-form button").click()
    wait_until(lambda: browser.find_elements(By.ID, "avg-value"))
    expected = client_average(sqlite_server, "Turin")
    assert browser.find_element(By.ID, "avg-value").text == f"{expected:.2f}"
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#groups tbody tr"))
    Path(sqlite_server.home.parent / "dashboard.png").write_bytes(browser.get_screenshot_as_png())
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
    Path(server.home.parent / "trips-filtered.png").write_bytes(browser.get_screenshot_as_png())


OKABE_ITO = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}


def client_average(server: Server, region: str) -> float:
    with server.client() as client:
        value: float = client.get("/api/v1/trips/weekly-average", params={"region": region}).json()[
            "weekly_average"
        ]
    return value


def wait_until(condition: Any, *, timeout: float = 20, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # the element may not be rendered yet
            pass
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
