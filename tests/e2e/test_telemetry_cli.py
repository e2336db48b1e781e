"""`fleetlake ingest telemetry` and `fleetlake telemetry compact` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import DATA
from tests.e2e.conftest import cli, cli_env

pytestmark = pytest.mark.slow


def test_ingest_provider_files_then_compact(tmp_path: Path) -> None:
    env = cli_env(tmp_path, f"sqlite:///{tmp_path / 'fleetlake.db'}")
    folder = DATA / "providers" / "tesla_fleet_api"
    ingested = cli(
        env, "ingest", "telemetry", str(folder), "--provider", "tesla_fleet_api", "--json"
    )
    assert ingested.returncode == 0, ingested.stderr
    job = json.loads(ingested.stdout)
    assert [r["rows_loaded"] for r in job["results"]] == [1, 1]

    compacted = cli(env, "telemetry", "compact", "--json")
    assert compacted.returncode == 0, compacted.stderr
    assert json.loads(compacted.stdout)["results"][0]["rows_loaded"] == 2
    bronze = tmp_path / "home" / "lake" / "bronze" / "telemetry"
    table = pq.read_table(bronze / "date=2020-12-10" / "5YJSA11111111111.parquet")
    assert table.column("charging_state").to_pylist() == ["charging"]
    assert not (bronze / "_buffer").exists() or not any((bronze / "_buffer").rglob("*.parquet"))

    bad = cli(env, "ingest", "telemetry", str(folder), "--provider", "teslamate")
    assert bad.returncode == 1 and "unknown provider 'teslamate'" in bad.stderr
    assert "Traceback" not in bad.stderr
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'name = "x"\nvin = "v"\nts = "t"\n[fields]\nspeed_kmh = { path = "s", unit = "knots" }\n'
    )
    wrong = cli(env, "ingest", "telemetry", str(folder), "--mapping", str(mapping))
    assert wrong.returncode == 1 and "unit 'knots' of 'speed_kmh' is unknown" in wrong.stderr
