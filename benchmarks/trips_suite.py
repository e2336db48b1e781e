"""The trips query suite, through the HTTP API of a real `fleetlake serve`, and its checks.

Latencies are wall-clock times of whole HTTP requests on loopback, timed with the standard
library's keep-alive `http.client` (httpx adds about 1 ms of its own per request). Every
bbox and region answer is compared with a brute-force DuckDB computation over the CSV that
shares no code with fleetlake (over the CSVs parsed to Parquet once, by DuckDB).
"""

from __future__ import annotations

import http.client
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REGION = "Turin"
BOXES = {
    "small": "7.66,45.05,7.70,45.08",  # about 3 x 3 km
    "city": "7.55,44.95,7.80,45.20",  # about 20 x 28 km
    "continent": "-10.0,35.0,30.0,60.0",
}
MODES = ("origin", "destination", "both", "either")
VEHICLES_FILTERS = {  # one trip in 392, one in 1,960 (the scan in id order stops at 100)
    "vehicles_region_date": {"region": "Milan", "date": "2018-05-10"},
    "vehicles_region_source_date": {
        "region": "Milan",
        "datasource": "cheap_mobile",
        "date": "2018-05-10",
    },
}


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def fleetlake(env: dict[str, str], *args: str, **popen: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "fleetlake", *args], env=env, **popen)


def start_server(env: dict[str, str], log: Path, *, workers: int = 1) -> Server:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    process = fleetlake(
        env,
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return Server(url, process)
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start in 60 s")


def cases(trips: int, seed: int = 3) -> dict[str, Callable[[], str]]:
    """Name -> a function giving the next URL of that query (trip ids vary per call)."""
    rng = random.Random(seed)
    suite: dict[str, Callable[[], str]] = {
        "weekly_average_region": lambda: f"/api/v1/trips/weekly-average?region={REGION}"
    }
    for size, box in BOXES.items():
        for mode in MODES:
            url = f"/api/v1/trips/weekly-average?bbox={box}&match={mode}"
            suite[f"weekly_average_bbox_{size}_{mode}"] = lambda url=url: url
    suite["groups_top50"] = lambda: "/api/v1/trip-groups?region=Berlin&limit=50"
    for name, given in VEHICLES_FILTERS.items():
        url = "/vehicles?" + "&".join(f"{k}={v}" for k, v in given.items()) + "&limit=100"
        suite[name] = lambda url=url: url
    suite["trip_by_id"] = lambda: f"/api/v1/trips/{rng.randint(1, trips)}"
    return suite


class Timer:
    """One keep-alive HTTP/1.1 connection; `get` returns the body, raising on non-200."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=120)

    def get(self, path: str) -> bytes:
        try:
            self.connection.request("GET", path)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            self.connection.close()  # the server closes idle keep-alive connections: reconnect
            self.connection.request("GET", path)
            response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
        return body

    def close(self) -> None:
        self.connection.close()


def latencies(
    client: Timer,
    suite: dict[str, Callable[[], str]],
    *,
    runs: int,
    until: Callable[[], bool] | None = None,
) -> dict[str, dict[str, float]]:
    """p50/p95/max per case over `runs` requests each (round robin; with `until`, go on
    until it is true so that the samples cover the whole of a concurrent ingestion)."""
    samples: dict[str, list[float]] = {name: [] for name in suite}
    for url in suite.values():  # warm caches once, untimed
        client.get(url())
    done = 0
    while done < runs or (until is not None and not until()):
        for name, url in suite.items():
            path = url()
            started = time.perf_counter()
            client.get(path)
            samples[name].append((time.perf_counter() - started) * 1000)
        done += 1
    return {name: _summary(values) for name, values in samples.items()}


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "runs": len(ordered),
        "p50": statistics.median(ordered),
        "p95": ordered[int(0.95 * (len(ordered) - 1))],
        "max": ordered[-1],
    }


def _where(bbox: str | None, mode: str | None) -> str:
    if bbox is None:
        return f"region = '{REGION}'"
    lo_lon, lo_lat, hi_lon, hi_lat = (float(x) for x in bbox.split(","))

    def inside(side: str) -> str:
        return (
            f"{side}_lon BETWEEN {lo_lon} AND {hi_lon} AND {side}_lat BETWEEN {lo_lat} AND {hi_lat}"
        )

    o, d = inside("origin"), inside("destination")
    return {"origin": o, "destination": d, "both": f"({o}) AND ({d})"}.get(
        str(mode), f"({o}) OR ({d})"
    )


QUESTIONS: list[tuple[str | None, str | None]] = [(None, None)] + [
    (box, mode) for box in BOXES.values() for mode in MODES
]


def brute_force(parsed: list[Path]) -> tuple[list[dict[str, int]], list[int]]:
    """From the parsed trips (Parquet written by DuckDB from the CSVs, no fleetlake code), in
    one scan: trips per ISO week ("YYYY-Www") for each question, and the number of trips
    matching each /vehicles filter."""
    import duckdb

    weekly = ", ".join(f"count(*) FILTER (WHERE {_where(b, m)})" for b, m in QUESTIONS)
    vehicles = ", ".join(
        "count(*) FILTER (WHERE "
        + " AND ".join(
            f"CAST(datetime AS DATE) = DATE '{v}'" if k == "date" else f"{k} = '{v}'"
            for k, v in given.items()
        )
        + ")"
        for given in VEHICLES_FILTERS.values()
    )
    files = ", ".join(f"'{p}'" for p in parsed)
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    rows = db.sql(
        f"SELECT isoyear(datetime), week(datetime), {weekly}, {vehicles} "
        f"FROM read_parquet([{files}]) GROUP BY ALL"
    ).fetchall()
    db.close()
    weeks: list[dict[str, int]] = [{} for _ in QUESTIONS]
    matching = [0] * len(VEHICLES_FILTERS)
    for year, week, *counts in rows:
        for index, n in enumerate(counts[: len(QUESTIONS)]):
            if n:
                weeks[index][f"{year}-W{week:02d}"] = int(n)
        for index, n in enumerate(counts[len(QUESTIONS) :]):
            matching[index] += int(n)
    return weeks, matching


def check_answers(client: httpx.Client, parsed: list[Path]) -> list[str]:
    """Every weekly-average and /vehicles answer against brute force; the mismatches."""
    wrong: list[str] = []
    expected_weeks, expected_matches = brute_force(parsed)
    for (box, mode), expected in zip(QUESTIONS, expected_weeks, strict=True):
        query = f"bbox={box}&match={mode}" if box else f"region={REGION}"
        answer = client.get(f"/api/v1/trips/weekly-average?{query}").json()
        got = {f"{w['year']}-W{w['week']:02d}": w["trips"] for w in answer["per_week"]}
        got = {week: n for week, n in got.items() if n}
        if got != expected:
            wrong.append(
                f"{query}: API {sum(got.values())} trips, brute force {sum(expected.values())}"
            )
    for given, matches in zip(VEHICLES_FILTERS.values(), expected_matches, strict=True):
        rows = client.get("/vehicles", params={**given, "limit": 100}).json()["data"]
        if len(rows) != min(100, matches):
            wrong.append(f"/vehicles {given}: {len(rows)} rows, not {min(100, matches)}")
        for row in rows:
            if any(row[k] != v for k, v in given.items() if k != "date"):
                wrong.append(f"/vehicles {given} returned a row outside its filter: {row}")
            if not row["datetime"].startswith("Thu, 10 May 2018"):
                wrong.append(f"/vehicles {given} returned a trip of another day: {row}")
    return wrong


def wrk_requests_per_s(url: str, trips: int, seconds: int = 5, rounds: int = 3) -> float | None:
    """Trip-by-id throughput with wrk (random ids), the median of `rounds` runs (the kernel
    spreads connections unevenly over server processes, so single runs vary); None when
    wrk is not installed."""
    if shutil.which("wrk") is None:
        return None
    script = Path(os.environ.get("TMPDIR", "/tmp")) / "fleetlake_trip_by_id.lua"
    script.write_text(
        f"math.randomseed(7)\nrequest = function()\n"
        f"  return wrk.format('GET', '/api/v1/trips/' .. math.random(1, {trips}))\nend\n"
    )
    rates = []
    for _ in range(rounds):
        output = subprocess.run(
            ["wrk", "-t1", "-c64", f"-d{seconds}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if "Non-2xx" in output:
            raise RuntimeError(f"wrk saw errors:\n{output}")
        found = re.search(r"Requests/sec:\s+([\d.]+)", output)
        assert found is not None, output
        rates.append(float(found.group(1)))
    return statistics.median(rates)
