"""Bad input to the lot: every refused row kept with its line and reason, valid rows never
lost; whole files refused with a reason that names the fix; requests refused with a 4xx."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.charging.conftest import AUTH, finished, import_csv

BAD_ROWS = """vehicle,current_charge,total_charge,desired_percentage,max_power_kw,departure
GOOD1,10,60,80,,
,10,60,80,,
BAD/../PLATE,10,60,80,,
NAN1,nan,60,80,,
INF1,10,inf,80,,
WORD1,ten,60,80,,
OVER1,70,60,80,,
NEG1,-1,60,80,,
HUGE1,10,301,80,,
ZERO1,0,0,80,,
DES0,10,60,0,,
DES101,10,60,101,,
POW0,10,60,80,0,
WHEN1,10,60,80,,next tuesday
PAST1,10,60,80,,2001-01-01T00:00:00Z
SHORT1,10
GOOD2,0,40,100,3.7,2099-01-01T08:00:00Z
"""
REASONS = {
    3: "vehicle is empty",
    4: "is not a plate",
    5: "current_charge 'nan' is not a finite number",
    6: "total_charge 'inf' is not a finite number",
    7: "current_charge 'ten' is not a number",
    8: "current_charge 70 kWh is outside [0, total_charge 60]",
    9: "current_charge -1 kWh is outside",
    10: "total_charge 301 kWh is outside (0, 300]",
    11: "total_charge 0 kWh is outside",
    12: "desired_percentage 0 is outside (0, 100]",
    13: "desired_percentage 101 is outside",
    14: "max_power_kw 0 is outside",
    15: "departure 'next tuesday' is not an ISO 8601 time",
    16: "has passed",
    17: "2 fields, the header has 6",
}


def test_every_bad_row_is_kept_with_its_line_and_reason(
    lot_client: TestClient, csv_server: Callable[[str, str], str]
) -> None:
    job = import_csv(lot_client, csv_server("bad.csv", BAD_ROWS))
    assert job["state"] == "succeeded"
    result = job["results"][0]
    assert (result["rows_loaded"], result["rows_quarantined"]) == (2, len(REASONS))
    kept = lot_client.get(f"/api/v1/charging/imports/{job['id']}/quarantine").json()["data"]
    assert [row["line"] for row in kept] == sorted(REASONS)
    for row in kept:
        assert REASONS[row["line"]] in row["reason"], row
        assert row["raw"].split(",")[0] == BAD_ROWS.splitlines()[row["line"] - 1].split(",")[0]
    plates = [c["plate"] for c in lot_client.get("/api/v1/charging/vehicles").json()["data"]]
    assert sorted(plates) == ["GOOD1", "GOOD2"]
    good2 = lot_client.get("/api/v1/charging/vehicles/GOOD2").json()
    assert (good2["power_kw"], good2["departure"]) == (3.7, "2099-01-01T08:00:00Z")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the file is empty"),
        (
            "plate,charge\nAB1,10\n",
            "lacks vehicle, current_charge, total_charge, desired_percentage",
        ),
        ("vehicle,current_charge,total_charge,desired_percentage\n", "has a header but no rows"),
    ],
)
def test_a_file_refused_whole_says_why(
    lot_client: TestClient, csv_server: Callable[[str, str], str], text: str, reason: str
) -> None:
    job = import_csv(lot_client, csv_server("whole.csv", text))
    assert job["state"] == "failed" and reason in job["error"]


def test_a_url_that_answers_404_fails_the_import_naming_it(
    lot_client: TestClient, csv_server: Callable[[str, str], str]
) -> None:
    missing = csv_server("here.csv", "x").replace("here.csv", "missing.csv")
    job = import_csv(lot_client, missing)
    assert job["state"] == "failed" and "answered HTTP 404" in job["error"]


def test_an_oversized_file_is_refused(
    lot_client: TestClient, csv_server: Callable[[str, str], str]
) -> None:
    from fleetlake.settings import get_settings

    get_settings().max_upload_bytes = 1000
    big = "vehicle,current_charge,total_charge,desired_percentage\n" + "AB1,1,2,3\n" * 200
    job = import_csv(lot_client, csv_server("big.csv", big))
    assert job["state"] == "failed" and "larger than the limit of 1000 bytes" in job["error"]
    upload = lot_client.post("/data", files={"file": ("big.csv", big)}, headers=AUTH)
    assert upload.status_code == 413 and upload.json()["error"]["details"]["field"] == "file"


def test_requests_that_cannot_be_imported_are_4xx(lot_client: TestClient) -> None:
    def post(body: object) -> tuple[int, str | None]:
        response = lot_client.post("/data", json=body, headers=AUTH)
        return response.status_code, response.json()["error"]["details"].get("field")

    assert post({}) == (400, "url")
    assert post({"url": "ftp://example.com/lot.csv"}) == (400, "url")
    assert post({"url": "https://x.invalid", "path": "lot.csv"}) == (400, "url")
    assert post({"path": "../../etc/passwd.csv"})[0] == 400
    assert post({"url": 5})[0] == 400
    assert lot_client.post("/data", json={"url": "https://example.com/a.csv"}).status_code == 401


def test_a_private_url_is_refused_unless_allowed(
    monkeypatch: pytest.MonkeyPatch, lot_client: TestClient
) -> None:
    lot_client.app.state.settings.allow_private_urls = False  # type: ignore[attr-defined]
    response = lot_client.post("/data", json={"url": "http://127.0.0.1:9/lot.csv"}, headers=AUTH)
    assert response.status_code == 400
    assert "FLEETLAKE_ALLOW_PRIVATE_URLS" in response.json()["error"]["message"]


def test_upload_and_server_path_import_the_same(lot_client: TestClient, home: Path) -> None:
    text = "vehicle,current_charge,total_charge,desired_percentage\nUP1,10,60,80\n"
    upload = lot_client.post("/api/v1/charging/imports", files={"file": ("u.csv", text)},
                             headers=AUTH)  # fmt: skip
    assert finished(lot_client, upload.json()["id"])["state"] == "succeeded"
    (home / "data").mkdir(parents=True, exist_ok=True)
    (home / "data" / "p.csv").write_text(text.replace("UP1", "PA1"))
    by_path = lot_client.post("/api/v1/charging/imports", json={"path": "p.csv"}, headers=AUTH)
    assert finished(lot_client, by_path.json()["id"])["state"] == "succeeded"
    plates = {c["plate"] for c in lot_client.get("/api/v1/charging/vehicles").json()["data"]}
    assert plates == {"UP1", "PA1"}
    imports = lot_client.get("/api/v1/charging/imports").json()["data"]
    assert [job["kind"] for job in imports] == ["charging.import"] * 2
