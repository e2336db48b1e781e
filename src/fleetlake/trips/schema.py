"""The trips CSV contract and the Arrow schemas between steps."""

from __future__ import annotations

import pyarrow as pa

CSV_HEADER = ("region", "origin_coord", "destination_coord", "datetime", "datasource")
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# A validated trip as written to bronze and loaded into the `trips` table.
TRIP_SCHEMA = pa.schema(
    [
        ("region", pa.string()),
        ("origin_lon", pa.float64()),
        ("origin_lat", pa.float64()),
        ("destination_lon", pa.float64()),
        ("destination_lat", pa.float64()),
        ("datetime", pa.timestamp("s", tz="UTC")),
        ("datasource", pa.string()),
        ("origin_cell", pa.int64()),
        ("destination_cell", pa.int64()),
        ("time_bucket", pa.int16()),
        ("iso_year", pa.int16()),
        ("iso_week", pa.int16()),
        ("line", pa.int64()),
    ]
)
