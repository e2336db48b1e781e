"""Platforms → templates → sensors over the API, and every way a body can be wrong."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.monitoring.conftest import AUTH

TEMPLATE: dict[str, Any] = {
    "name": "T-1", "internal_volume_m3": 800, "length_m": 12, "width_m": 10, "height_m": 6,
    "angle_from_north_deg": 45, "porosity": [0.3, 0.1, 0.3, 0.1],
    "wall_area_m2": [72, 60, 72, 60], "inclination_deg": 0,
}  # fmt: skip


def created(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(f"/api/v1/monitoring/{path}", json=body, headers=AUTH)
    assert answer.status_code == 201, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_a_platform_its_template_and_sensors_are_created_and_listed(client: TestClient) -> None:
    platform = created(client, "platforms", {"name": "Troll A", "description": "North Sea"})
    assert platform["id"] >= 1 and platform["created_at"].endswith("Z")
    template = created(client, "templates", {"platform_id": platform["id"], **TEMPLATE})
    assert template["porosity"] == [0.3, 0.1, 0.3, 0.1]
    # λ = Σ porosity · area · 3.6 m/h / V = (21.6 + 6 + 21.6 + 6) · 3.6 / 800
    assert template["exchange_per_h"] == pytest.approx(55.2 * 3.6 / 800)
    sensors = [
        created(client, "sensors", {"template_id": template["id"], "name": f"MS-{k}",
                                    "x_m": x, "y_m": y, "z_m": 1.0, "source_id": f"omnia-{k}"})
        for k, (x, y) in enumerate([(1, 1), (11, 9)])
    ]  # fmt: skip
    assert sensors[1]["baseline"] is None and sensors[1]["x_m"] == 11
    listed = client.get("/api/v1/monitoring/sensors", params={"template_id": template["id"]})
    assert [s["name"] for s in listed.json()["data"]] == ["MS-0", "MS-1"]
    assert client.get(f"/api/v1/monitoring/templates/{template['id']}").json() == template
    assert client.get("/api/v1/monitoring/platforms").json()["data"] == [platform]
    assert client.get("/api/v1/monitoring/templates", params={"platform_id": 999}).json() == {
        "data": []
    }


def error_of(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    return error


def test_bad_bodies_are_refused_naming_the_field(client: TestClient) -> None:
    post = lambda path, body, **kw: client.post(  # noqa: E731
        f"/api/v1/monitoring/{path}", json=body, headers=kw.get("headers", AUTH)
    )
    assert error_of(post("platforms", {"name": "P"}, headers={}), 401)
    platform = created(client, "platforms", {"name": "P"})
    assert error_of(post("platforms", {"name": "P"}), 409)["details"]["field"] == "name"
    no_volume = {k: v for k, v in TEMPLATE.items() if k != "internal_volume_m3"}
    error = error_of(post("templates", {"platform_id": platform["id"], **no_volume}), 422)
    assert "internal_volume_m3" in str(error["details"])
    unknown = post("templates", {**TEMPLATE, "platform_id": 4242})
    assert error_of(unknown, 404)["details"]["field"] == "platform_id"
    mismatched = {**TEMPLATE, "platform_id": platform["id"], "wall_area_m2": [1, 2, 3]}
    assert error_of(post("templates", mismatched), 400)["details"]["field"] == "porosity"
    negative = {**TEMPLATE, "platform_id": platform["id"], "length_m": -1}
    assert "length_m" in str(error_of(post("templates", negative), 422)["details"])
    template = created(client, "templates", {**TEMPLATE, "platform_id": platform["id"]})
    outside = {"template_id": template["id"], "name": "S", "x_m": 13, "y_m": 1, "z_m": 1}
    error = error_of(post("sensors", outside), 400)
    assert error["details"]["field"] == "x_m" and "0 to length_m 12" in error["message"]
    created(client, "sensors", {**outside, "x_m": 2, "source_id": "a1"})
    twin = {**outside, "name": "S2", "x_m": 2, "source_id": "a1"}
    assert error_of(post("sensors", twin), 409)["details"]["field"] == "source_id"
    assert error_of(client.get("/api/v1/monitoring/sensors/999"), 404)
