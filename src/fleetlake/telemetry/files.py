"""Telemetry files → messages with their line (or row, or array index), read as streams.

NDJSON/JSONL: a message a line. JSON: a document (an array is a message an item). CSV: a
message a row, empty cells null. Parquet: a message a row. `.gz` is read through.
A line that is no JSON is a message with an error, kept for the quarantine.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

SUFFIXES = (
    ".ndjson", ".jsonl", ".json", ".csv", ".parquet",
    ".ndjson.gz", ".jsonl.gz", ".json.gz", ".csv.gz",
)  # fmt: skip
MAX_RAW = 10_000  # characters of a bad line kept in the quarantine


@dataclass(frozen=True, slots=True)
class Message:
    position: int  # 1-based line (NDJSON, CSV), row (Parquet) or array index (JSON)
    payload: Any = None
    error: str | None = None
    raw: str = ""


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(data: bytes | str) -> Any:
    """Strict JSON (no NaN or Infinity); too deep a nesting is a ValueError like any other
    bad JSON, so that it is quarantined instead of failing its neighbours."""
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def file_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    for suffix, kind in ((".ndjson", "ndjson"), (".jsonl", "ndjson"), (".json", "json"),
                         (".csv", "csv"), (".parquet", "parquet")):  # fmt: skip
        if name.endswith(suffix):
            return kind
    raise ValueError(f"{path.name}: not one of {', '.join(SUFFIXES)}")


def read_messages(path: Path) -> Iterator[Message]:
    kind = file_format(path)
    if kind == "parquet":
        yield from _parquet_rows(path)
        return
    with _open_binary(path) as raw:
        if kind == "ndjson":
            yield from _ndjson(raw)
        elif kind == "json":
            yield from _json_document(raw)
        else:
            yield from _csv_rows(raw)


def messages_in(data: bytes, *, ndjson: bool) -> Iterator[Message]:
    """Messages of a body held in memory (an HTTP push): NDJSON, or one JSON document."""
    stream = io.BytesIO(data)
    return _ndjson(stream) if ndjson else _json_document(stream)


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # a binary stream
    return path.open("rb")


def ndjson_chunks(path: Path, *, lines: int) -> Iterator[tuple[int, bytes]]:
    """An NDJSON file (plain or .gz) as (number of its first line, up to `lines` lines)."""
    with _open_binary(path) as raw:
        first, held = 1, []
        for line in raw:
            held.append(line if line.endswith(b"\n") else line + b"\n")
            if len(held) == lines:
                yield first, b"".join(held)
                first, held = first + len(held), []
        if held:
            yield first, b"".join(held)


def ndjson_messages(data: bytes, *, first_line: int) -> Iterator[Message]:
    """The messages of NDJSON lines that start at line `first_line` of their file."""
    return _ndjson(io.BytesIO(data), first_line=first_line)


def _ndjson(raw: IO[bytes], *, first_line: int = 1) -> Iterator[Message]:
    for line_number, line in enumerate(raw, start=first_line):
        if not line.strip():
            continue
        try:
            yield Message(line_number, parse_json(line))
        except ValueError as exc:  # bad UTF-8 is a ValueError too
            text = line.decode("utf-8", errors="replace").rstrip("\n")
            yield Message(line_number, error=f"invalid JSON: {exc}", raw=text[:MAX_RAW])


def _json_document(raw: IO[bytes]) -> Iterator[Message]:
    data = raw.read()
    try:
        document = parse_json(data)
    except ValueError as exc:
        text = data[:MAX_RAW].decode("utf-8", errors="replace")
        yield Message(1, error=f"invalid JSON: {exc}", raw=text)
        return
    if isinstance(document, list):
        for index, item in enumerate(document):
            yield Message(index, item)
    else:
        yield Message(0, document)


def _csv_rows(raw: IO[bytes]) -> Iterator[Message]:
    text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
    reader = csv.DictReader(text)
    for row in reader:
        extra = row.pop(None, None)  # cells past the header
        message: dict[str, Any] = {k: (v if v != "" else None) for k, v in row.items()}
        if extra:
            yield Message(reader.line_num, error="more cells than header columns", raw=str(extra))
            continue
        yield Message(reader.line_num, message)


def _parquet_rows(path: Path) -> Iterator[Message]:
    import pyarrow.parquet as pq

    row_number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            row_number += 1
            yield Message(row_number, row)
