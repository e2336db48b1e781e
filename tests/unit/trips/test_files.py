"""Blocks of a trips CSV: whole lines, nothing lost or repeated, resumable at any block end,
the same for plain and gzip files."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetlake.trips.files import LONG_LINE, read_blocks
from fleetlake.trips.schema import CSV_HEADER

HEADER = ",".join(CSV_HEADER).encode() + b"\n"
lines = st.lists(
    st.binary(max_size=40).map(lambda raw: raw.replace(b"\n", b" ").replace(b"\0", b" ")),
    min_size=0,
    max_size=60,
)


def write(folder: Path, body: bytes, gzipped: bool) -> Path:
    path = folder / ("trips.csv.gz" if gzipped else "trips.csv")
    path.write_bytes(gzip.compress(HEADER + body) if gzipped else HEADER + body)
    return path


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=lines,
    final_newline=st.booleans(),
    chunk_bytes=st.integers(1, 300),
    gzipped=st.booleans(),
)
def test_blocks_are_the_file_in_whole_lines(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[bytes],
    final_newline: bool,
    chunk_bytes: int,
    gzipped: bool,
) -> None:
    body = b"\n".join(rows) + (b"\n" if final_newline and rows else b"")
    path = write(tmp_path_factory.mktemp("blocks"), body, gzipped)
    blocks = list(read_blocks(path, start_offset=0, start_line=0, chunk_bytes=chunk_bytes))
    assert b"".join(bytes(b.data) for b in blocks) == body
    offset, line = len(HEADER), 2
    for block in blocks:
        assert (block.offset, block.first_line) == (offset, line)
        assert block.end_offset == block.offset + len(block.data)
        assert block.end_line == line + block.data.count(b"\n")
        offset, line = block.end_offset, block.end_line
    for block in blocks[:-1]:
        assert block.data.endswith(b"\n")
    # Resuming at the end of any block reads exactly the rest.
    for block in blocks:
        rest = list(
            read_blocks(
                path,
                start_offset=block.end_offset,
                start_line=block.end_line,
                chunk_bytes=chunk_bytes,
            )
        )
        assert b"".join(bytes(b.data) for b in rest) == body[block.end_offset - len(HEADER) :]
        if rest:
            assert rest[0].first_line == block.end_line


def test_first_blocks_are_small_then_full_size(tmp_path: Path) -> None:
    row = b"Turin,POINT (7.6 45.0),POINT (7.7 45.1),2018-05-28 09:03:40,cheap_mobile\n"
    body = row * (40 * 2**20 // len(row))
    path = write(tmp_path, body, gzipped=False)
    sizes = [
        len(b.data) for b in read_blocks(path, start_offset=0, start_line=0, chunk_bytes=16 << 20)
    ]
    mib = [round(size / 2**20) for size in sizes]
    assert mib[:3] == [1, 4, 16], mib
    assert sum(sizes) == len(body)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.integers(0, 400).map(lambda n: b"x" * n), max_size=30),
    chunk_bytes=st.integers(1, 120),
    gzipped=st.booleans(),
)
def test_overlong_lines_are_refused_whole_and_the_rest_stays_exact(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[bytes],
    chunk_bytes: int,
    gzipped: bool,
) -> None:
    monkeypatch.setattr("fleetlake.trips.files.MAX_LINE_BYTES", 100)
    rows = [row + str(i).encode() for i, row in enumerate(rows)]  # every line its own
    body = b"".join(row + b"\n" for row in rows)
    path = write(tmp_path_factory.mktemp("long"), body, gzipped)
    blocks = list(read_blocks(path, start_offset=0, start_line=0, chunk_bytes=chunk_bytes))
    shown = b"".join(bytes(b.data) for b in blocks).split(b"\n")[:-1]
    assert len(shown) == len(rows)  # one line out for every line in: numbers stay exact
    refused = {line: reason for b in blocks for line, _, reason in b.refused}
    for number, (row, out) in enumerate(zip(rows, shown, strict=True), start=2):
        if number in refused:
            assert len(row) >= 100 and out == b"" and refused[number] == LONG_LINE
        else:
            assert out == row
    for before, after in itertools.pairwise(blocks):
        assert (after.offset, after.first_line) == (before.end_offset, before.end_line)
    if blocks:
        assert blocks[-1].end_offset == len(HEADER) + len(body)
    for block in blocks:  # resuming after any block gives the same later lines, except
        # that where the buffers fall decides which overlong lines the reader meets first
        rest = list(read_blocks(path, start_offset=block.end_offset,
                                start_line=block.end_line, chunk_bytes=chunk_bytes))  # fmt: skip
        again = b"".join(bytes(b.data) for b in rest).split(b"\n")[:-1]
        first = block.end_line - 2
        assert len(again) == len(rows) - first
        for row, out in zip(rows[first:], again, strict=True):
            assert out == row or (out == b"" and len(row) >= 100)
        if rest:
            assert rest[-1].end_offset == len(HEADER) + len(body)
