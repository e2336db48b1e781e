"""The silver transform as one SQL text, for DuckDB and Spark alike.

Engine-specific pieces are the placeholders of `fleetlake.platform.query_engines` (`{epoch}`,
`{q:name}`); the rows judged are the relation `{source}`. Rules, in order — each dropped row
keeps the first reason that applies:

1. `future`: `ts` more than `{future_s}` seconds after `received_at`.
2. `lat_lon_out_of_range`, `soc_out_of_range`, `odometer_negative`.
3. `speed_over_max` (speed outliers on): speed below 0 or above `{max_speed}` km/h.
4. `duplicate`: the same (vin, ts) again; the one received last is kept.
5. `odometer_decreasing`: below the previous reading and not above the next (a dip).
6. `gps_jump` (speed outliers on): reaching the fix from the previous one, and the next
   fix from it, both need more than `{max_speed}` km/h (a jump out and back).

Rules 5 and 6 compare a row with its neighbours among the rows that pass 1 to 4, and only
with neighbours at most `NEAR_S` (an hour) away: a reading after a longer silence says
nothing about a glitch. So a row's outcome depends only on its own UTC hour and the nearest
rows of the hours around it — what lets silver recompute an hour alone.
"""

from __future__ import annotations

KM_EARTH = 6371.0088
NEAR_S = 3600  # rows further apart are no neighbours (silver's partitions are hours)

SILVER_SQL = """
WITH checked AS (
  SELECT *, CASE
    WHEN {epoch}(ts) > {epoch}(received_at) + {future_s} THEN 'future'
    WHEN lat < -90 OR lat > 90 OR lon < -180 OR lon > 180 THEN 'lat_lon_out_of_range'
    WHEN soc_pct < 0 OR soc_pct > 100 THEN 'soc_out_of_range'
    WHEN odometer_km < 0 THEN 'odometer_negative'
    WHEN {speed_on} AND (speed_kmh < 0 OR speed_kmh > {max_speed}) THEN 'speed_over_max'
  END AS reason
  FROM {source}
), ranked AS (
  SELECT *, row_number() OVER (
    PARTITION BY vin, ts ORDER BY received_at DESC NULLS LAST, source NULLS LAST,
      extra NULLS LAST, speed_kmh NULLS LAST, odometer_km NULLS LAST, lat NULLS LAST
  ) AS copy
  FROM checked WHERE reason IS NULL
), valid AS (
  SELECT * FROM ranked WHERE copy = 1
), odometer AS (
  SELECT vin, ts,
    CASE WHEN {epoch}(ts) - {epoch}(lag(ts) OVER w) <= {near_s}
      THEN lag(odometer_km) OVER w END AS km_before,
    CASE WHEN {epoch}(lead(ts) OVER w) - {epoch}(ts) <= {near_s}
      THEN lead(odometer_km) OVER w END AS km_after
  FROM valid WHERE odometer_km IS NOT NULL
  WINDOW w AS (PARTITION BY vin ORDER BY ts)
), fixes AS (
  SELECT vin, ts,
    lag(lat) OVER w AS lat_before, lag(lon) OVER w AS lon_before, lag(ts) OVER w AS ts_before,
    lead(lat) OVER w AS lat_after, lead(lon) OVER w AS lon_after, lead(ts) OVER w AS ts_after
  FROM valid WHERE lat IS NOT NULL AND lon IS NOT NULL
  WINDOW w AS (PARTITION BY vin ORDER BY ts)
), judged AS (
  SELECT v.*, CASE
    WHEN o.km_before IS NOT NULL AND v.odometer_km < o.km_before - 0.001
         AND (o.km_after IS NULL OR v.odometer_km < o.km_after - 0.001)
      THEN 'odometer_decreasing'
    WHEN {speed_on} AND {epoch}(v.ts) - {epoch}(f.ts_before) <= {near_s}
         AND {epoch}(f.ts_after) - {epoch}(v.ts) <= {near_s}
         AND {km}(f.lat_before, f.lon_before, v.lat, v.lon) * 3600
             > {max_speed} * ({epoch}(v.ts) - {epoch}(f.ts_before))
         AND {km}(v.lat, v.lon, f.lat_after, f.lon_after) * 3600
             > {max_speed} * ({epoch}(f.ts_after) - {epoch}(v.ts))
      THEN 'gps_jump'
  END AS judged_reason
  FROM valid v
  LEFT JOIN odometer o ON o.vin = v.vin AND o.ts = v.ts
  LEFT JOIN fixes f ON f.vin = v.vin AND f.ts = v.ts
)
SELECT {columns}, judged_reason AS reason FROM judged
UNION ALL
SELECT {columns}, 'duplicate' AS reason FROM ranked WHERE copy > 1
UNION ALL
SELECT {columns}, reason FROM checked WHERE reason IS NOT NULL
"""

# Great-circle distance in km (haversine), as SQL over four column expressions.
HAVERSINE = (
    "(2 * {r} * asin(sqrt(pow(sin(radians(({lat2}) - ({lat1})) / 2), 2) + cos(radians({lat1}))"
    " * cos(radians({lat2})) * pow(sin(radians(({lon2}) - ({lon1})) / 2), 2))))"
)


def silver_sql(
    *, columns: list[str], max_speed_kmh: float, speed_outliers: bool, future_s: float, source: str
) -> str:
    """The transform's text, its parameters filled in and its dialect placeholders left."""

    def km(lat1: str, lon1: str, lat2: str, lon2: str) -> str:
        return HAVERSINE.format(r=KM_EARTH, lat1=lat1, lon1=lon1, lat2=lat2, lon2=lon2)

    filled = {
        "{km}(f.lat_before, f.lon_before, v.lat, v.lon)": km(
            "f.lat_before", "f.lon_before", "v.lat", "v.lon"
        ),
        "{km}(v.lat, v.lon, f.lat_after, f.lon_after)": km(
            "v.lat", "v.lon", "f.lat_after", "f.lon_after"
        ),
        "{future_s}": repr(float(future_s)),
        "{speed_on}": "TRUE" if speed_outliers else "FALSE",
        "{max_speed}": repr(float(max_speed_kmh)),
        "{near_s}": repr(float(NEAR_S)),
        "{columns}": quoted(columns),
        "{source}": source,
    }
    text = SILVER_SQL
    for placeholder, value in filled.items():
        text = text.replace(placeholder, value)
    return text


def quoted(columns: list[str]) -> str:
    """Our schema's own column names, quoted by the engine's dialect."""
    return ", ".join(f"{{q:{c}}}" for c in columns)
