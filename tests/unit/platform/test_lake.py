from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fleetlake.platform.lake import Lake


def test_parquet_is_written_whole_with_dictionaries_for_text_only(tmp_path: Path) -> None:
    table = pa.table(
        {
            "region": ["Turin", "Turin", "Prague"],
            "speed_kmh": [12.5, 80.25, 31.0],
            "at": pa.array(
                [datetime(2018, 5, 28, 9, 3, 40, tzinfo=UTC)] * 3, pa.timestamp("s", "UTC")
            ),
        }
    )
    lake = Lake(str(tmp_path / "lake"))
    path = lake.write_parquet(table, "bronze", "x", "part.parquet")

    assert lake.read_parquet("bronze", "x", "part.parquet").to_pylist() == table.to_pylist()
    assert [p.name for p in (tmp_path / "lake" / "bronze" / "x").iterdir()] == ["part.parquet"]
    row_group = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {
        row_group.column(i).path_in_schema: row_group.column(i).encodings for i in range(3)
    }
    assert "RLE_DICTIONARY" in encodings["region"]
    assert "RLE_DICTIONARY" not in encodings["speed_kmh"]
    assert "RLE_DICTIONARY" not in encodings["at"]
    assert row_group.column(0).compression == "ZSTD"


def test_exclusive_work_on_a_lake_runs_one_at_a_time(tmp_path: Path) -> None:
    import threading
    import time

    lake = Lake(str(tmp_path / "lake"))
    inside: list[str] = []

    def work(name: str) -> None:
        with Lake(str(tmp_path / "lake")).exclusive("telemetry"):  # another Lake object
            inside.append(f"{name} in")
            time.sleep(0.2)
            inside.append(f"{name} out")

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert inside in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
    with lake.exclusive("other"), lake.exclusive("telemetry"):  # another name, another lock
        assert (tmp_path / "lake" / "_state" / "locks" / "telemetry.lock").exists()
