"""Parse a block of trips CSV lines into valid trips and rejected lines, vectorised.

A block is whole lines (it ends with a newline) and knows the file line number of its
first line, so every rejected row is reported with its exact line and raw text.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fleetlake.trips.cells import FINE_RESOLUTION
from fleetlake.trips.files import LONG_LINE, MAX_LINE_BYTES, NOTHING_REFUSED, BlockBytes, Refused
from fleetlake.trips.schema import CSV_HEADER, DATETIME_FORMAT, TRIP_SCHEMA

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
POINT_PATTERN = rf"^\s*POINT\s*\(\s*(?P<lon>{_NUMBER})\s+(?P<lat>{_NUMBER})\s*\)\s*$"
LOOSE_POINT = r"\(\s*(?P<lon>\S+)\s+(?P<lat>[^\s)]+)"


@dataclass
class Rejected:
    line: int | None  # None when the whole file is refused
    raw: str
    reason: str


@dataclass
class ParsedBlock:
    trips: pa.Table
    rejected: list[Rejected] = field(default_factory=list)


def parse_block(
    block: BlockBytes,
    *,
    first_line: int,
    time_bucket_minutes: int,
    refused: Refused = NOTHING_REFUSED,
) -> ParsedBlock:
    """`refused`: lines the reader refused itself (an empty line in the block stands in for
    each), with their reasons."""
    if not block.endswith(b"\n"):
        block = block + b"\n"  # a new object: the caller's block stays as it was
    rejected: list[Rejected] = []
    line_numbers = np.arange(first_line, first_line + block.count(b"\n"), dtype=np.int64)
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        block, line_numbers, rejected = _drop_undecodable(block, line_numbers)
    table, structural = _read_fields(block, line_numbers)
    rejected.extend(structural)
    trips, invalid = _validate(table, block, line_numbers)
    rejected.extend(invalid)
    if refused:  # the reader's reason, not the stand-in's "empty line"
        by_line = {line: Rejected(line, raw, reason) for line, raw, reason in refused}
        rejected = [by_line.pop(r.line or 0, r) for r in rejected] + list(by_line.values())
    rejected.sort(key=lambda r: r.line or 0)
    return ParsedBlock(
        trips=_enrich(trips, bucket_minutes=time_bucket_minutes),
        rejected=rejected,
    )


def _drop_undecodable(
    block: BlockBytes, line_numbers: np.ndarray
) -> tuple[bytes, np.ndarray, list[Rejected]]:
    """Rare path: keep the decodable lines, quarantine the others."""
    lines = bytes(block).split(b"\n")[:-1]
    kept, kept_numbers, rejected = [], [], []
    for number, raw in zip(line_numbers.tolist(), lines, strict=True):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            rejected.append(Rejected(number, text, "not valid UTF-8 text"))
        else:
            kept.append(raw)
            kept_numbers.append(number)
    rebuilt = b"".join(line + b"\n" for line in kept)
    return rebuilt, np.array(kept_numbers, dtype=np.int64), rejected


def _read_fields(block: BlockBytes, line_numbers: np.ndarray) -> tuple[pa.Table, list[Rejected]]:
    """All five columns as strings; rows with the wrong column count are rejected."""
    bad: list[tuple[int, str, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.text, row.actual_columns))
        return "skip"

    if not block:
        empty = pa.table({name: pa.array([], pa.string()) for name in CSV_HEADER})
        return empty.append_column("line", pa.array([], pa.int64())), []
    table = pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(block)),  # the block's memory, not a copy
        read_options=pacsv.ReadOptions(
            column_names=list(CSV_HEADER),
            use_threads=False,
            block_size=max(len(block) + 1, 1 << 20),
        ),
        parse_options=pacsv.ParseOptions(
            invalid_row_handler=on_invalid, ignore_empty_lines=False, newlines_in_values=False
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in CSV_HEADER},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if table.num_rows + len(bad) != len(line_numbers):
        # Stray quotes made the fast parser merge or drop lines: parse this block line by line.
        return _read_fields_by_line(block, line_numbers)
    keep = np.ones(len(line_numbers), dtype=bool)
    keep[np.array([number - 1 for number, _, _ in bad], dtype=np.int64)] = False
    table = table.append_column("line", pa.array(line_numbers[keep]))
    rejected = [
        Rejected(int(line_numbers[number - 1]), text, _column_reason(text, columns))
        for number, text, columns in bad
    ]
    return table, rejected


def _column_reason(text: str, columns: int) -> str:
    if not text.strip():
        return "empty line"
    return f"expected {len(CSV_HEADER)} columns, found {columns}"


def _read_fields_by_line(
    block: BlockBytes, line_numbers: np.ndarray
) -> tuple[pa.Table, list[Rejected]]:
    """The slow, exact path: Python's csv module on each line on its own."""
    rows: list[list[str]] = []
    kept: list[int] = []
    rejected: list[Rejected] = []
    for number, raw in zip(line_numbers.tolist(), bytes(block).split(b"\n")[:-1], strict=True):
        text = raw.rstrip(b"\r").decode("utf-8")
        try:
            fields = next(csv.reader([text], strict=True), [])
        except csv.Error as exc:
            rejected.append(Rejected(number, text, f"malformed quoting: {exc}"))
            continue
        if len(fields) != len(CSV_HEADER):
            rejected.append(Rejected(number, text, _column_reason(text, len(fields))))
            continue
        rows.append(fields)
        kept.append(number)
    columns = {
        name: pa.array([r[i] for r in rows], pa.string()) for i, name in enumerate(CSV_HEADER)
    }
    return pa.table(columns | {"line": pa.array(kept, pa.int64())}), rejected


def _point(column: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """`POINT (lon lat)` → (lon, lat) float64; null where the text is no such point."""
    fast = _canonical_point(column)
    if fast is not None:
        return fast
    valid = pc.match_substring_regex(column, pattern=POINT_PATTERN)
    text = pc.if_else(valid, column, "POINT (0 0)")
    try:
        lon, lat = _sliced_numbers(text)
    except pa.ArrowException:  # other spacing than `POINT (x y)`: the regex extract
        parts = pc.extract_regex(text, pattern=LOOSE_POINT)
        lon = pc.cast(pc.struct_field(parts, "lon"), pa.float64())
        lat = pc.cast(pc.struct_field(parts, "lat"), pa.float64())
    return pc.if_else(valid, lon, None), pc.if_else(valid, lat, None)


def _canonical_point(column: pa.ChunkedArray) -> tuple[pa.Array, pa.Array] | None:
    """The usual block, every point written `POINT (x y)` with numbers that parse: no regex
    (half the cost). None when any point is written otherwise, or reads as infinite or NaN
    (the float parser takes `inf` and `nan`, the pattern does not): the regex path decides."""
    try:
        lon, lat = _sliced_numbers(column)
    except pa.ArrowException:
        return None
    if not pc.all(pc.and_(pc.is_finite(lon), pc.is_finite(lat))).as_py():
        return None
    return lon, lat


def _sliced_numbers(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    lon_text, lat_text = _canonical_parts(text)
    return pc.cast(lon_text, pa.float64()), pc.cast(lat_text, pa.float64())


def _canonical_parts(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The two numbers of points all written `POINT (x y)`, by slicing (3x faster than a
    regex extract); raises when any point is written otherwise."""
    exact = pc.and_(pc.starts_with(text, "POINT ("), pc.ends_with(text, ")"))
    if not pc.all(exact).as_py():
        raise pa.ArrowInvalid("not every point is written `POINT (x y)`")
    parts = pc.split_pattern(pc.utf8_slice_codeunits(text, 7, -1), " ", max_splits=1)
    return pc.list_element(parts, 0), pc.list_element(parts, 1)


def _moment(text: pa.ChunkedArray) -> pa.Array:
    """`YYYY-MM-DD HH:MM:SS` → timestamp; null when malformed or an impossible date."""
    moment = pc.strptime(text, format=DATETIME_FORMAT, unit="s", error_is_null=True)
    # strptime rolls impossible dates over (Feb 30 → Mar 2): the day must read back the same.
    day_text = pc.utf8_slice_codeunits(text, 8, 10)
    well_formed = pc.and_(pc.equal(pc.utf8_length(text), 19), pc.utf8_is_digit(day_text))
    written_day = pc.cast(pc.if_else(well_formed, day_text, "0"), pa.int64())
    same_day = pc.and_(well_formed, pc.equal(pc.day(moment), written_day))
    return pc.if_else(pc.fill_null(same_day, False), moment, None)


def _coordinate_problem(name: str, lon: pa.Array, lat: pa.Array) -> list[tuple[pa.Array, str]]:
    return [
        (pc.is_null(lon), f"{name}: not a POINT (lon lat)"),
        (
            pc.invert(pc.and_(pc.greater_equal(lon, -180.0), pc.less_equal(lon, 180.0))),
            f"{name}: longitude outside -180..180",
        ),
        (
            pc.invert(pc.and_(pc.greater_equal(lat, -90.0), pc.less_equal(lat, 90.0))),
            f"{name}: latitude outside -90..90",
        ),
    ]


def _overlong(table: pa.Table) -> pa.Array:
    """Rows whose line reaches MAX_LINE_BYTES (the fields' bytes and their four commas)."""
    total = pa.scalar(len(CSV_HEADER) - 1, pa.int64())
    for name in CSV_HEADER:
        total = pc.add(total, pc.cast(pc.binary_length(table[name]), pa.int64()))
    return pc.greater_equal(total, MAX_LINE_BYTES)


MAX_NAME_CHARS = 200  # region and datasource: names, kept small enough to index everywhere
# A quote left in a value (the fast parser unquotes well-formed ones) is half of a quoted
# value broken over lines, or a stray one; control characters (NUL included) are no names.
UNFIT_NAME = r'["\x00-\x1f\x7f]'


def _name_problems(name: str, values: pa.Array) -> list[tuple[pa.Array, str]]:
    return [
        (
            pc.greater(pc.utf8_length(values), MAX_NAME_CHARS),
            f"{name}: longer than {MAX_NAME_CHARS} characters",
        ),
        (
            pc.match_substring_regex(values, UNFIT_NAME),
            f"{name}: holds a quote or a control character (a value broken over lines?)",
        ),
    ]


def _validate(
    table: pa.Table, block: BlockBytes, line_numbers: np.ndarray
) -> tuple[pa.Table, list[Rejected]]:
    if table.num_rows == 0:
        return _empty_trips(), []
    region = pc.utf8_trim_whitespace(table["region"])
    datasource = pc.utf8_trim_whitespace(table["datasource"])
    origin_lon, origin_lat = _point(table["origin_coord"])
    destination_lon, destination_lat = _point(table["destination_coord"])
    moment = _moment(pc.utf8_trim_whitespace(table["datetime"]))
    all_empty = pc.and_(pc.equal(region, ""), pc.equal(pc.utf8_length(table["origin_coord"]), 0))
    checks = [
        (_overlong(table), LONG_LINE),  # whichever of reader and parser meets it first
        (all_empty, "empty line"),
        (pc.equal(region, ""), "region: empty"),
        *_name_problems("region", region),
        *_coordinate_problem("origin_coord", origin_lon, origin_lat),
        *_coordinate_problem("destination_coord", destination_lon, destination_lat),
        (pc.is_null(moment), "datetime: expected YYYY-MM-DD HH:MM:SS, e.g. 2018-05-28 09:03:40"),
        (pc.equal(datasource, ""), "datasource: empty"),
        *_name_problems("datasource", datasource),
    ]
    reason = pa.nulls(table.num_rows, pa.string())
    for failed, message in reversed(checks):  # the first failing check wins
        reason = pc.if_else(pc.fill_null(failed, True), message, reason)
    bad = pc.is_valid(reason)
    good = pc.invert(bad)
    trips = pa.table(
        {
            "region": region,
            "origin_lon": origin_lon,
            "origin_lat": origin_lat,
            "destination_lon": destination_lon,
            "destination_lat": destination_lat,
            "datetime": pc.assume_timezone(moment, "UTC"),
            "datasource": datasource,
            "line": table["line"],
        }
    ).filter(good)
    rejected: list[Rejected] = []
    if pc.any(bad).as_py():
        raw_lines = block.split(b"\n")
        bad_lines = table["line"].filter(bad).to_numpy()
        positions = np.searchsorted(line_numbers, bad_lines)
        for line, position, message in zip(
            bad_lines.tolist(), positions.tolist(), reason.filter(bad).to_pylist(), strict=True
        ):
            raw = raw_lines[position].rstrip(b"\r").decode("utf-8")
            if message == LONG_LINE:  # its start, as the reader keeps it
                raw = raw[:200] + "…"
            rejected.append(Rejected(line, raw, message))
    return trips, rejected


def _empty_trips() -> pa.Table:
    names = (
        "region",
        "origin_lon",
        "origin_lat",
        "destination_lon",
        "destination_lat",
        "datetime",
        "datasource",
        "line",
    )
    return pa.table({n: pa.array([], TRIP_SCHEMA.field(n).type) for n in names})


def cells(
    lat: pa.Array | pa.ChunkedArray, lon: pa.Array | pa.ChunkedArray, resolution: int
) -> pa.Array:
    """h3 cell (as int64) of each point, vectorised (h3ronpy, the h3 library under Arrow)."""
    from h3ronpy.vector import coordinates_to_cells

    lat_np = lat.to_numpy() if isinstance(lat, pa.Array) else lat.combine_chunks().to_numpy()
    lon_np = lon.to_numpy() if isinstance(lon, pa.Array) else lon.combine_chunks().to_numpy()
    found = pa.array(coordinates_to_cells(lat_np, lon_np, resolution))
    return pc.cast(found, pa.int64())  # h3 indexes keep the top bit clear: no overflow


def _enrich(trips: pa.Table, *, bucket_minutes: int) -> pa.Table:
    """Add the group keys (origin/destination cell, time-of-day bucket) and the ISO week."""
    moment = trips["datetime"]
    minute_of_day = pc.add(pc.multiply(pc.hour(moment), 60), pc.minute(moment))
    calendar = pc.iso_calendar(moment)
    columns = {
        "region": trips["region"],
        "origin_lon": trips["origin_lon"],
        "origin_lat": trips["origin_lat"],
        "destination_lon": trips["destination_lon"],
        "destination_lat": trips["destination_lat"],
        "datetime": moment,
        "datasource": trips["datasource"],
        "origin_cell": cells(trips["origin_lat"], trips["origin_lon"], FINE_RESOLUTION),
        "destination_cell": cells(
            trips["destination_lat"], trips["destination_lon"], FINE_RESOLUTION
        ),
        "time_bucket": pc.divide(minute_of_day, bucket_minutes),
        "iso_year": pc.struct_field(calendar, "iso_year"),
        "iso_week": pc.struct_field(calendar, "iso_week"),
        "line": trips["line"],
    }
    return pa.table(columns).cast(TRIP_SCHEMA)
