"""The same silver and gold SQL on DuckDB and on Apache Spark, over copies of one lake: every
output file and the serving table's last states must agree."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from fleetlake.platform.lake import Lake
from fleetlake.platform.query_engines import DuckDbEngine, QueryEngine, SparkEngine
from fleetlake.simulate.telemetry_faults import FaultRates
from fleetlake.simulate.telemetry_run import FleetSpec, write_files
from fleetlake.telemetry.compaction import compact
from fleetlake.telemetry.gold import run_gold
from fleetlake.telemetry.models import vehicle_state
from fleetlake.telemetry.silver import SilverRules, run_silver
from tests.conftest import require_service
from tests.integration.telemetry.test_silver import land_files

pytestmark = pytest.mark.slow
RULES = SilverRules(lookback_s=0)
RATES = FaultRates(**dict.fromkeys(FaultRates().shares(), 0.01))  # every fault, often


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkEngine]:
    if shutil.which("java") is None:
        require_service("Java", "the spark engine needs a Java 17+ runtime on PATH")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        require_service("pyspark", "install the extra: uv sync --extra spark")
    engine = SparkEngine(Lake(str(tmp_path_factory.mktemp("unused"))), master="local[2]")
    yield engine
    engine.close()


def run_in_steps(
    lake: Lake, database: sa.Engine, engine: QueryEngine, days: list[Path], reports: Path
) -> list[dict[str, Any]]:
    """A day landed at a time, compacted, silver and gold run incrementally after each."""
    states = []
    for path in days:
        land_files(lake, [path])
        compact(lake, before=date(2026, 11, 17))
        run_silver(lake, rules=RULES, engine=engine)
        run_gold(lake, database, reports_dir=reports, lookback_s=0, engine=engine)
        with database.connect() as connection:
            rows = connection.execute(sa.select(vehicle_state).order_by(vehicle_state.c.vin))
            states.append([dict(r._mapping, updated_at=None) for r in rows])
    return states


def outputs(lake: Lake) -> dict[str, pa.Table]:
    found = {}
    for stage in (("silver",), ("silver", "_quarantine"), ("gold",)):
        for path in lake.list_files(*stage):
            table = pq.read_table(path)
            found[path.removeprefix(lake.root)] = table.sort_by(
                [(c, "ascending") for c in table.column_names if c != "extra"]
            )
    return found


def assert_same_values(left: pa.Table, right: pa.Table, where: str) -> None:
    assert left.schema == right.schema, where
    assert left.num_rows == right.num_rows, where
    for name in left.column_names:
        for a, b in zip(left[name].to_pylist(), right[name].to_pylist(), strict=True):
            if isinstance(a, float) and isinstance(b, float):  # sums in another order
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (where, name, a, b)
            else:
                assert a == b, (where, name, a, b)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the engines are under test
def test_duckdb_and_spark_give_the_same_lake_and_states(
    spark: SparkEngine, tmp_path: Path, engine: sa.Engine
) -> None:
    simulated = tmp_path / "sim"
    write_files(simulated, FleetSpec(4, 2, date(2026, 11, 16), seed=11, rates=RATES))
    days = sorted(simulated.glob("*.ndjson"))
    duck_lake, spark_lake = Lake(str(tmp_path / "duck")), Lake(str(tmp_path / "spark"))
    duck_states = run_in_steps(duck_lake, engine, DuckDbEngine(duck_lake), days, tmp_path / "r1")
    with engine.begin() as connection:
        connection.execute(vehicle_state.delete())
    spark_states = run_in_steps(spark_lake, engine, spark, days, tmp_path / "r2")
    duck, sparked = outputs(duck_lake), outputs(spark_lake)
    assert sorted(duck) == sorted(sparked)
    assert any("/gold/telemetry/top_speeds/" in p for p in duck)
    assert any("/silver/_quarantine/" in p for p in duck)  # faults were judged on both
    for path, table in duck.items():
        assert_same_values(table, sparked[path], path)
    assert len(duck_states) == len(spark_states) == len(days)
    for mine, theirs in zip(duck_states, spark_states, strict=True):
        assert [r["vin"] for r in mine] == [r["vin"] for r in theirs]
        for a, b in zip(mine, theirs, strict=True):
            assert a.keys() == b.keys()
            for key in a:
                same = (
                    math.isclose(a[key], b[key], rel_tol=1e-9)
                    if isinstance(a[key], float) and isinstance(b[key], float)
                    else a[key] == b[key]
                )
                assert same, (a["vin"], key, a[key], b[key])
