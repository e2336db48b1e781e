"""Gold transforms as SQL texts over a view `silver_rows`, for DuckDB and Spark alike
(placeholders: `fleetlake.platform.query_engines`). Ties are broken the same way everywhere:
higher speed first, then the earlier time, then the VIN.
"""

from __future__ import annotations

from fleetlake.telemetry.schema import MEASURES

HOURLY_MAX = """
SELECT vin, hour, speed_kmh, ts, lat, lon FROM (
  SELECT vin, {hour}(ts) AS hour, speed_kmh, ts, lat, lon,
    row_number() OVER (PARTITION BY vin, {hour}(ts) ORDER BY speed_kmh DESC, ts) AS n
  FROM silver_rows WHERE speed_kmh IS NOT NULL
) AS fastest WHERE n = 1
"""

TOP_SPEEDS = """
SELECT hour, rank, vin, speed_kmh, ts, lat, lon FROM (
  SELECT *, row_number() OVER (PARTITION BY hour ORDER BY speed_kmh DESC, ts, vin) AS rank
  FROM hourly_rows
) AS ranked WHERE rank <= {top}
"""

DAILY_STATS = """
WITH energy AS (
  SELECT vin, energy_remaining_kwh
    - lag(energy_remaining_kwh) OVER (PARTITION BY vin ORDER BY ts) AS delta_kwh
  FROM silver_rows WHERE energy_remaining_kwh IS NOT NULL
), flows AS (
  SELECT vin,
    sum(CASE WHEN delta_kwh < 0 THEN -delta_kwh ELSE 0 END) AS energy_used_kwh,
    sum(CASE WHEN delta_kwh > 0 THEN delta_kwh ELSE 0 END) AS energy_added_kwh
  FROM energy GROUP BY vin
)
SELECT s.vin,
  max(s.odometer_km) - min(s.odometer_km) AS distance_km,
  max(s.speed_kmh) AS max_speed_kmh,
  avg(s.speed_kmh) AS mean_speed_kmh,
  min(s.soc_pct) AS soc_min_pct,
  max(s.soc_pct) AS soc_max_pct,
  coalesce(max(f.energy_used_kwh), 0) AS energy_used_kwh,
  coalesce(max(f.energy_added_kwh), 0) AS energy_added_kwh,
  count(*) AS messages
FROM silver_rows s LEFT JOIN flows f ON f.vin = s.vin
GROUP BY s.vin
"""


def last_state_sql() -> str:
    """The latest non-null value of each field per vehicle, and when it was seen; the
    position is taken as a pair (a fix with one coordinate missing is no position)."""
    parts = ["vin", "max(ts) AS last_ts", "max_by(source, ts) AS source"]
    for name in MEASURES:
        seen = (
            "lat IS NOT NULL AND lon IS NOT NULL"
            if name in ("lat", "lon")
            else f"{name} IS NOT NULL"
        )
        parts.append(f"max_by({name}, ts) FILTER (WHERE {seen}) AS {name}")
        parts.append(f"max(ts) FILTER (WHERE {seen}) AS {name}_at")
    return f"SELECT {', '.join(parts)} FROM silver_rows GROUP BY vin"  # noqa: S608  (our names)
