"""The bad-input corpus (tests/data/bad/) through the CLI and the API as users send it, then
every later stage: each bad record quarantined alone with its reason, every valid one landed,
and every stage still green — on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.conftest import DATA
from tests.e2e.conftest import Server, cli

pytestmark = pytest.mark.slow

TELEMETRY = DATA / "bad" / "telemetry.ndjson"
VALID_ROWS = 5  # lines 1, 3, 11, 13, 16
QUARANTINED = {  # line → what its reason says
    2: "invalid JSON: Expecting value",
    4: "vin '_buffer' is not",
    5: "vin '../../etc' is not",
    6: "is before 2000-01-01",
    7: "after its receipt",
    8: "'utf-8' codec can't decode byte 0xff",
    9: "nested too deeply",
    10: "NaN is not a JSON number",
    12: "no vin at 'vin'",
    14: "invalid JSON: Expecting ','",
    15: "no time at 'ts'",
}


def assert_reasons(rejected: list[dict[str, object]]) -> None:
    by_line = {int(str(r["position"])): str(r["reason"]) for r in rejected}
    assert sorted(by_line) == sorted(QUARANTINED)
    for line, words in QUARANTINED.items():
        assert words in by_line[line], (line, by_line[line])


def test_bad_telemetry_through_cli_and_api_then_every_stage(server: Server) -> None:
    ingested = cli(server.env, "ingest", "telemetry", str(TELEMETRY), "--json")
    assert ingested.returncode == 0, ingested.stderr
    [result] = json.loads(ingested.stdout)["results"]
    assert (result["messages"], result["rows_loaded"]) == (16, VALID_ROWS)
    assert result["rows_quarantined"] == len(QUARANTINED)

    with server.client() as client:
        pushed = client.post(
            "/api/v1/telemetry",
            content=TELEMETRY.read_bytes(),
            headers={"Content-Type": "application/x-ndjson"},
        )
    assert pushed.status_code == 200, pushed.text
    assert (pushed.json()["rows_loaded"], pushed.json()["rows_quarantined"]) == (VALID_ROWS, 11)
    assert_reasons(pushed.json()["rejected"])

    lake = server.home / "lake"
    kept = f"{lake}/bronze/_quarantine/telemetry/**/*.parquet"
    quarantine = duckdb.sql(f"SELECT position, reason FROM read_parquet('{kept}')").fetchall()
    assert len(quarantine) == 2 * len(QUARANTINED)  # the file's and the push's, each kept
    assert_reasons([{"position": p, "reason": r} for p, r in quarantine[: len(QUARANTINED)]])

    for args in (("telemetry", "compact"), ("pipeline", "run"), ("pipeline", "run")):
        done = cli(server.env, *args, "--json")
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert json.loads(done.stdout)["state"] == "succeeded"

    def rows(layer: str) -> int:
        glob = f"{lake}/{layer}/**/*.parquet"
        [(count,)] = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()
        return int(count)

    assert rows("bronze/telemetry") == 2 * VALID_ROWS  # a plain glob: buffers compacted away
    assert rows("silver/telemetry") == VALID_ROWS  # the push's copies judged duplicates
    assert rows("silver/_quarantine/telemetry") == VALID_ROWS
    extra = duckdb.sql(
        f"SELECT extra FROM read_parquet('{lake}/silver/telemetry/**/*.parquet') "
        "WHERE extra IS NOT NULL ORDER BY extra"
    ).fetchall()
    assert [json.loads(e) for (e,) in extra] == [{"pressure_hpa": "Infinity"}, {"tyre_kpa": 230}]
    with server.client() as client:
        vehicles = client.get("/api/v1/vehicles").json()["data"]
    assert sorted(v["vin"] for v in vehicles) == ["5YJSA1111111111A", "5YJSA1111111111B"]
