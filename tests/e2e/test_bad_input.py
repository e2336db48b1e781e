"""The bad-input corpus (tests/data/bad/) through the CLI and the API as users send it, then
every later stage: each bad record quarantined alone with its reason, every valid one landed,
and every stage still green — on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
import time
import zlib
from pathlib import Path

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

    first = TELEMETRY.read_bytes().splitlines(keepends=True)[0]  # a valid message
    with server.client() as client:  # a body opening with `null` once killed the server
        pushed = client.post("/api/v1/telemetry", content=b"null\n" + first,
                             headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
        assert pushed.status_code == 200, pushed.text
        assert (pushed.json()["rows_loaded"], pushed.json()["rows_quarantined"]) == (1, 1)
        [refused] = pushed.json()["rejected"]
        assert refused["position"] == 1 and "object" in refused["reason"], refused
        assert client.get("/api/v1/health").status_code == 200


TRIPS = DATA / "bad" / "trips.csv"
POINTS = "POINT (7.672837913286881 44.9957109242058),POINT (7.720368637535126 45.06782385393849)"
TRIPS_QUARANTINED = {  # line → what its reason says
    3: "datasource: holds a quote or a control character",  # a NUL byte
    4: "region: longer than 200 characters",
    5: "malformed quoting",  # a quoted value broken over two lines: both halves
    6: "region: holds a quote",
    7: "region: holds a quote",
    9: "datasource: longer than 200 characters",
    11: "region: holds a quote or a control character",  # a tab
}
TRIPS_VALID = 4  # lines 2, 8, 10 ("Hamburg" quoted as RFC 4180 allows) and 12


def _truncated_gzip(path: Path) -> int:
    """A .csv.gz cut two thirds in; returns how many whole rows precede the break."""
    rows = "".join(f"Milan,{POINTS},2018-05-24 09:{m % 60:02d}:00,x\n" for m in range(3000))
    packed = gzip.compress(
        ("region,origin_coord,destination_coord,datetime,datasource\n" + rows).encode()
    )
    path.write_bytes(packed[: len(packed) * 2 // 3])
    readable = zlib.decompressobj(31).decompress(path.read_bytes())
    return readable.count(b"\n") - 1  # the header's


def test_bad_trips_through_cli_and_api_then_every_stage(server: Server) -> None:
    drop = server.home / "data" / "bad"
    drop.mkdir(parents=True)
    long_line = drop / "long-line.csv"  # 3 MiB in one line, between two valid ones
    header = "region,origin_coord,destination_coord,datetime,datasource\n"
    rows = [
        f"Turin,{POINTS},2018-05-23 08:00:00,a",
        "X" * (3 << 20) + f",{POINTS},2018-05-23 08:01:00,b",
        f"Turin,{POINTS},2018-05-23 08:02:00,c",
    ]
    long_line.write_text(header + "\n".join(rows) + "\n")
    before_break = _truncated_gzip(drop / "cut.csv.gz")
    header_only = DATA / "bad" / "trips-header-only.csv"
    ingested = cli(server.env, "ingest", "trips", str(header_only), str(TRIPS), "--json")
    assert ingested.returncode == 0, ingested.stderr
    results = {r["name"]: r for r in json.loads(ingested.stdout)["results"]}
    assert (results["trips-header-only.csv"]["status"], results["trips.csv"]["status"]) == (
        "loaded",
        "loaded",
    )
    assert (results["trips.csv"]["rows_loaded"], results["trips.csv"]["rows_quarantined"]) == (
        TRIPS_VALID, len(TRIPS_QUARANTINED))  # fmt: skip

    with server.client() as client:
        job = client.post(
            "/api/v1/ingestions", json={"sources": ["bad/long-line.csv", "bad/cut.csv.gz"]}
        ).json()
        wait = time.monotonic() + 60
        while (done := client.get(f"/api/v1/jobs/{job['id']}").json())["state"] in (
            "queued",
            "running",
        ):
            assert time.monotonic() < wait
            time.sleep(0.2)
        assert done["state"] == "succeeded", done
        loaded = {r["name"]: (r["rows_loaded"], r["rows_quarantined"]) for r in done["results"]}
        assert loaded == {"long-line.csv": (2, 1), "cut.csv.gz": (before_break, 1)}
        first = json.loads(ingested.stdout)["id"]
        rows = client.get(f"/api/v1/ingestions/{first}/quarantine").json()["data"]
        later = client.get(f"/api/v1/ingestions/{job['id']}/quarantine").json()["data"]
        average = client.get("/api/v1/trips/weekly-average", params={"region": "milan"}).json()
    by_line = {r["line"]: r["reason"] for r in rows}
    assert sorted(by_line) == sorted(TRIPS_QUARANTINED)
    for line, words in TRIPS_QUARANTINED.items():
        assert words in by_line[line], (line, by_line[line])
    assert "\u2400" in next(r["raw"] for r in rows if r["line"] == 3)  # the NUL, shown
    assert [(r["line"], r["reason"][:21]) for r in later] == [
        (3, "line longer than the "), (before_break + 2, "the file breaks off h")]  # fmt: skip
    assert average["trips"] == before_break
    verified = cli(server.env, "trips", "verify")  # the rollups agree after all of it
    assert verified.returncode == 0, verified.stdout + verified.stderr
    total = 4 + 2 + before_break
    with server.client() as client:
        counted = client.get("/vehicles/region/count").json()["data"]
    assert sum(c["count"] for c in counted) == total
