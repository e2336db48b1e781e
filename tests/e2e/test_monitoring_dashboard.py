"""The monitoring page in headless Chromium: a leaking template critical, its sensors on the
plan coloured by level with the leak marked where the API estimates it, each sensor's series
with its deviations shaded, and an acknowledgement pushed back to the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY
from tests.e2e.conftest import Server, cli, running_server, screenshot, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def site_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path) as server:
        site = tmp_path / "site"
        steps = [("simulate", "monitoring", "--out", str(site), "--templates", "2", "--leaks", "1",
                  "--seed", "5"), ("monitoring", "model", "load", str(site / "model.json")),
                 ("monitoring", "ingest", str(site / "readings.csv")),
                 ("monitoring", "detect", "--once")]  # fmt: skip
        for step in steps:
            done = cli(server.env, *step)
            assert done.returncode == 0, done.stdout + done.stderr
        yield server


def test_the_page_shows_the_leak_and_takes_an_acknowledgement(
    browser: Any, site_server: Server
) -> None:
    from selenium.webdriver.common.by import By

    find, find_all = browser.find_element, browser.find_elements
    with site_server.client() as client:
        [critical] = client.get("/api/v1/monitoring/events", params={"level": "critical"}).json()[
            "data"
        ]
        template = critical["template_id"]
        leak = client.get(f"/api/v1/monitoring/templates/{template}/leak").json()
        sensors = client.get("/api/v1/monitoring/sensors", params={"template_id": template}).json()[
            "data"
        ]
    browser.get(site_server.url + f"/#monitoring/{template}")
    wait_until(lambda: len(find_all(By.CSS_SELECTOR, "#mon-templates tbody tr")) == 2)
    levels = browser.execute_script("""return Object.fromEntries([...document.querySelectorAll(
        '#mon-templates tbody tr')].map((tr) => [tr.dataset.template, tr.cells[2].innerText]))""")
    assert levels == {str(template): "critical", str(3 - template): "ok"}
    wait_until(lambda: len(find_all(By.CSS_SELECTOR, "#mon-plan g.sensor")) == len(sensors) == 4)
    shown = browser.execute_script("""return [...document.querySelectorAll('#mon-plan g.sensor')]
        .map((g) => g.dataset.level)""")
    assert set(critical["sensors"]) <= {s["id"] for s in sensors}
    assert shown.count("critical") == len(critical["sensors"]) >= 2
    mark = find(By.CSS_SELECTOR, "#mon-plan g.leak")
    assert float(mark.get_attribute("data-rate")) == pytest.approx(leak["rate_kg_h"])
    assert f"{leak['rate_kg_h']:.2f} kg/h" in find(By.ID, "mon-leak").text
    wait_until(lambda: len(find_all(By.CSS_SELECTOR, "#mon-series figure svg")) == 4)
    shaded = browser.execute_script("""return [...document.querySelectorAll('#mon-series figure')]
        .map((f) => f.querySelectorAll('rect.deviation.critical').length)""")
    assert sum(n > 0 for n in shaded) == len(critical["sensors"])
    screenshot(browser, "monitoring-template")

    browser.execute_script("window.__sameDocument = 'yes'")
    find(By.ID, "api-key").send_keys(API_KEY)
    find(By.ID, "mon-by").send_keys("operator-7")
    find(By.CSS_SELECTOR, f"#mon-events button.ack[data-event='{critical['id']}']").click()
    row = f"#mon-events tr[data-event='{critical['id']}']"
    wait_until(lambda: find(By.CSS_SELECTOR, row).get_attribute("data-state") == "acknowledged")
    assert "operator-7" in find(By.CSS_SELECTOR, row).text
    assert browser.execute_script("return window.__sameDocument") == "yes"  # pushed, not reloaded
    with site_server.client() as client:
        event = client.get(f"/api/v1/monitoring/events/{critical['id']}").json()
    assert event["state"] == "acknowledged" and event["actions"][-1]["by"] == "operator-7"
