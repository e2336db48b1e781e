"""The CSV block parser: every malformed kind, exact values, and properties on random input."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlake.trips.parse import _point, parse_block

GOOD = (
    "Turin,POINT (7.672837913286881 44.9957109242058),POINT (7.72 45.06),"
    "2018-05-21 02:54:04,baba_car"
)


def parse(text: str | bytes, first_line: int = 2):  # type: ignore[no-untyped-def]
    data = text.encode() if isinstance(text, str) else text
    return parse_block(data, first_line=first_line, time_bucket_minutes=60)


def test_valid_row_keeps_exact_values_and_derives_keys() -> None:
    result = parse(GOOD + "\n")
    assert result.rejected == []
    (row,) = result.trips.to_pylist()
    assert row["region"] == "Turin"
    assert row["origin_lon"] == 7.672837913286881 and row["origin_lat"] == 44.9957109242058
    assert row["datetime"] == datetime(2018, 5, 21, 2, 54, 4, tzinfo=UTC)
    assert (row["iso_year"], row["iso_week"], row["time_bucket"]) == (2018, 21, 2)
    assert row["origin_cell"] == 0x871F9A6E2FFFFFF or row["origin_cell"] > 0
    assert row["line"] == 2


def test_points_written_with_other_spacing_keep_their_exact_values() -> None:
    """Blocks of `POINT (x y)` take a fast path; any other spelling in the block must still
    give the same numbers (`POINT(12.5 3)` misreads as 2.5 if sliced blindly)."""
    spellings = [
        ("POINT (7.5 45.25)", (7.5, 45.25)),
        ("POINT(12.5 3)", (12.5, 3.0)),
        ("POINT ( -7.5  45.25 )", (-7.5, 45.25)),
        ("  POINT (1e-3 +2.5)  ", (0.001, 2.5)),
        ("POINT\t(7.5\t45.25)", (7.5, 45.25)),
    ]
    for spelling, expected in spellings:
        lines = [
            f"Turin,POINT (7.1 45.1),{spelling},2018-05-21 02:54:04,a",
            f'Turin,"{spelling}",POINT (7.1 45.1),2018-05-21 02:54:04,a',
        ]
        result = parse("\n".join(lines) + "\n")
        assert result.rejected == [], (spelling, result.rejected)
        first, second = result.trips.to_pylist()
        assert (first["destination_lon"], first["destination_lat"]) == expected, spelling
        assert (second["origin_lon"], second["origin_lat"]) == expected, spelling
        assert (first["origin_lon"], second["destination_lat"]) == (7.1, 45.1)


def test_each_malformed_kind_is_rejected_with_line_raw_and_reason() -> None:
    lines = [
        GOOD,
        "",
        "Turin,POINT (1 2),2018-05-21 02:54:04",
        "Turin,POINT (7 44),POINT (7 44),2018-05-21 02:54:04,baba_car,extra",
        "Turin,POINT (seven 44),POINT (7 44),2018-05-21 02:54:04,baba_car",
        "Turin,POINT (7 44),POINT (7 91.5),2018-05-21 02:54:04,baba_car",
        "Turin,POINT (-181 44),POINT (7 44),2018-05-21 02:54:04,baba_car",
        "Turin,POINT (7 44),POINT (7 44),2018-02-30 10:00:00,baba_car",
        "Turin,POINT (7 44),POINT (7 44),21/05/2018 02:54,baba_car",
        "   ,POINT (7 44),POINT (7 44),2018-05-21 02:54:04,baba_car",
        "Turin,POINT (7 44),POINT (7 44),2018-05-21 02:54:04,",
        GOOD,
    ]
    result = parse("\n".join(lines) + "\n", first_line=10)
    assert result.trips["line"].to_pylist() == [10, 21]
    reasons = {r.line: r.reason for r in result.rejected}
    assert reasons == {
        11: "empty line",
        12: "expected 5 columns, found 3",
        13: "expected 5 columns, found 6",
        14: "origin_coord: not a POINT (lon lat)",
        15: "destination_coord: latitude outside -90..90",
        16: "origin_coord: longitude outside -180..180",
        17: "datetime: expected YYYY-MM-DD HH:MM:SS, e.g. 2018-05-28 09:03:40",
        18: "datetime: expected YYYY-MM-DD HH:MM:SS, e.g. 2018-05-28 09:03:40",
        19: "region: empty",
        20: "datasource: empty",
    }
    assert {r.line: r.raw for r in result.rejected}[16] == lines[6]


def test_invalid_utf8_line_is_quarantined_and_neighbours_survive() -> None:
    block = (
        (GOOD + "\n").encode()
        + b"Tur\xffin,POINT (1 2),POINT (1 2),2018-05-21 02:54:04,x\n"
        + (GOOD + "\n").encode()
    )
    result = parse(block)
    assert result.trips["line"].to_pylist() == [2, 4]
    assert [(r.line, r.reason) for r in result.rejected] == [(3, "not valid UTF-8 text")]


def test_crlf_and_missing_final_newline() -> None:
    result = parse(GOOD + "\r\n" + GOOD)
    assert result.trips.num_rows == 2
    assert result.trips["datasource"].to_pylist() == ["baba_car", "baba_car"]


coordinates = st.tuples(st.floats(-180, 180, allow_nan=False), st.floats(-90, 90, allow_nan=False))
moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)
words = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(words, coordinates, coordinates, moments, words), min_size=1, max_size=40)
)
def test_valid_rows_round_trip_exactly(rows: list) -> None:  # type: ignore[type-arg]
    text = "".join(
        f"{r},POINT ({o[0]!r} {o[1]!r}),POINT ({d[0]!r} {d[1]!r}),{m:%Y-%m-%d %H:%M:%S},{s}\n"
        for r, o, d, m, s in rows
    )
    result = parse(text)
    assert result.rejected == []
    got = result.trips.to_pylist()
    for (region, origin, destination, moment, source), row in zip(rows, got, strict=True):
        assert row["region"] == region and row["datasource"] == source
        assert (row["origin_lon"], row["origin_lat"]) == origin
        assert (row["destination_lon"], row["destination_lat"]) == destination
        assert row["datetime"] == moment.replace(tzinfo=UTC)
        assert row["iso_week"] == moment.isocalendar()[1]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=80), st.just(GOOD), st.text('",\r POINT()0123456789.-', max_size=60)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_any_input_is_fully_accounted_for(lines: list[str]) -> None:
    """Garbage never crashes the parser, and every line is either a trip or a rejection."""
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    result = parse("\n".join(lines) + "\n", first_line=5)
    seen = sorted(result.trips["line"].to_pylist() + [r.line for r in result.rejected])
    assert seen == list(range(5, 5 + len(lines)))


def test_stray_quotes_never_swallow_lines() -> None:
    quoted = '"Turin","POINT (7 44)","POINT (7 45)","2018-05-21 02:54:04","baba_car"'
    result = parse('"\n\n' + quoted + '\nTurin,"POINT (7 44),POINT (7 45),2018-05-21 02:54:04,x\n')
    assert result.trips["line"].to_pylist() == [4]
    assert result.trips["region"].to_pylist() == ["Turin"]
    assert [r.line for r in result.rejected] == [2, 3, 5]


NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
number_texts = st.one_of(
    st.floats(-200, 200, allow_nan=False).map(repr),
    st.text("0123456789.-+eE", min_size=1, max_size=8),
    st.sampled_from(["nan", "inf", "-inf", "Infinity", "1e400", "+.5", "5.", "1e", " 3", "3 "]),
)


def expected_point(text: str) -> tuple[float, float] | None:
    """Independent reading of `POINT (lon lat)`: Python's re and float, nothing of Arrow.
    Words such as `inf` are no numbers; `1e400` is one (too large: the range check's)."""
    match = re.fullmatch(r"\s*POINT\s*\(\s*(\S+)\s+(\S+?)\s*\)\s*", text)
    if not match or not all(NUMBER.fullmatch(part) for part in match.groups()):
        return None
    lon, lat = (float(part) for part in match.groups())
    return lon, lat


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(number_texts, number_texts).map(lambda p: f"POINT ({p[0]} {p[1]})"),
            st.text("POINT ()0123456789.-e \t", max_size=24),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_points_read_as_an_independent_parser_reads_them(texts: list[str]) -> None:
    lon, lat = _point(pa.chunked_array([pa.array(texts, pa.string())]))
    got = [
        None if x is None else (x, y) for x, y in zip(lon.to_pylist(), lat.to_pylist(), strict=True)
    ]
    assert got == [expected_point(text) for text in texts]
