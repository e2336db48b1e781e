"""The charging lot page in headless Chromium: each parked car's charge, power and ready time
as the API says, and a car leaving pushed to the page without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, cli, running_server, screenshot, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def lot_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, FLEETLAKE_CHARGING_SITE_LIMIT_KW="60") as server:
        made = cli(server.env, "simulate", "charging", "--cars", "12", "--out",
                   str(tmp_path / "lot.csv"), "--seed", "3")  # fmt: skip
        assert made.returncode == 0, made.stderr
        (tmp_path / "ready.csv").write_text(
            "vehicle,current_charge,total_charge,desired_percentage\nREADY-1,50,60,80\n"
        )
        for name in ("lot.csv", "ready.csv"):
            loaded = cli(server.env, "charging", "import", str(tmp_path / name))
            assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        yield server


def test_the_lot_page_shows_the_plan_and_follows_it_live(browser: Any, lot_server: Server) -> None:
    from selenium.webdriver.common.by import By

    find, find_all = browser.find_element, browser.find_elements
    with lot_server.client() as client:
        cars = {c["plate"]: c for c in client.get("/api/v1/charging/vehicles").json()["data"]}
        plan = client.get("/api/v1/charging/plan").json()
    browser.get(lot_server.url + "/#charging")
    wait_until(lambda: len(find_all(By.CSS_SELECTOR, "#lot tbody tr")) == len(cars) == 13)
    browser.execute_script("window.__sameDocument = 'yes'")
    shown = browser.execute_script("""return [...document.querySelectorAll('#lot tbody tr')].map(
        (tr) => [tr.dataset.plate, [...tr.cells].map((td) => td.innerText),
                 tr.querySelector('.charge .fill').style.width])""")  # one read: rows re-render
    for plate, cells, width in shown:
        car = cars[plate]
        assert cells[0] == plate
        assert float(cells[4]) == pytest.approx(car["power_kw"], abs=0.1)
        if car["ready"]:
            assert cells[5].startswith("ready")
        elif car["reaches_target"]:
            assert cells[5].startswith(car["ready_at"][11:16])
        assert float(width.rstrip("%")) == pytest.approx(car["soc_pct"], abs=0.5)
    assert sum(c["power_kw"] for c in cars.values()) <= 60.0 + 1e-6
    summary = find(By.ID, "lot-summary").text
    assert "13 cars, 1 ready" in summary and "site limit 60 kW" in summary
    assert f"{plan['power_now_kw']:.1f} kW" in summary
    assert find_all(By.CSS_SELECTOR, "#lot-load svg path.line") and find_all(
        By.CSS_SELECTOR, "line.limit"
    )
    screenshot(browser, "charging-lot")

    leaving = next(p for p, c in cars.items() if not c["ready"])
    with lot_server.client() as client:
        assert client.delete(f"/vehicle/{leaving}").status_code == 200
    plates = "return [...document.querySelectorAll('#lot tbody tr')].map((tr) => tr.dataset.plate)"
    wait_until(lambda: len(browser.execute_script(plates)) == 12)
    assert leaving not in browser.execute_script(plates)
    assert browser.execute_script("return window.__sameDocument") == "yes"  # pushed, not reloaded
