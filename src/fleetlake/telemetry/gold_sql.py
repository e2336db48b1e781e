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

# Per vehicle-hour partial aggregates: a day's stats are summed from its hours. Sums are
# exact decimals, so that they come out the same in any order (threads, engines, runs).
EXACT = "DECIMAL(38, 9)"
HOURLY_STATS = """
WITH steps AS (
  SELECT vin, {hour}(ts) AS hour, ts, energy_remaining_kwh AS kwh,
    energy_remaining_kwh - lag(energy_remaining_kwh) OVER (
      PARTITION BY vin, {hour}(ts) ORDER BY ts) AS delta_kwh
  FROM silver_rows WHERE energy_remaining_kwh IS NOT NULL
), energy AS (
  SELECT vin, hour,
    sum(CAST(CASE WHEN delta_kwh < 0 THEN -delta_kwh ELSE 0 END AS {exact})) AS energy_used_kwh,
    sum(CAST(CASE WHEN delta_kwh > 0 THEN delta_kwh ELSE 0 END AS {exact})) AS energy_added_kwh,
    min_by(kwh, ts) AS energy_first_kwh, max_by(kwh, ts) AS energy_last_kwh
  FROM steps GROUP BY vin, hour
), rows_by_hour AS (
  SELECT *, {hour}(ts) AS hour FROM silver_rows
)
SELECT s.vin, s.hour,
  min(s.odometer_km) AS odometer_min_km, max(s.odometer_km) AS odometer_max_km,
  max(s.speed_kmh) AS max_speed_kmh, sum(CAST(s.speed_kmh AS {exact})) AS speed_sum_kmh,
  count(s.speed_kmh) AS speeds, min(s.soc_pct) AS soc_min_pct, max(s.soc_pct) AS soc_max_pct,
  max(e.energy_used_kwh) AS energy_used_kwh, max(e.energy_added_kwh) AS energy_added_kwh,
  max(e.energy_first_kwh) AS energy_first_kwh, max(e.energy_last_kwh) AS energy_last_kwh,
  count(*) AS messages
FROM rows_by_hour s LEFT JOIN energy e ON e.vin = s.vin AND e.hour = s.hour
GROUP BY s.vin, s.hour
""".replace("{exact}", EXACT)

# A day per vehicle from its hours; energy also counts the steps between consecutive hours.
DAILY_STATS = """
WITH crossings AS (
  SELECT vin, energy_first_kwh
    - lag(energy_last_kwh) OVER (PARTITION BY vin ORDER BY hour) AS delta_kwh
  FROM hourly_stats WHERE energy_first_kwh IS NOT NULL
), between_hours AS (
  SELECT vin,
    sum(CAST(CASE WHEN delta_kwh < 0 THEN -delta_kwh ELSE 0 END AS {exact})) AS used_kwh,
    sum(CAST(CASE WHEN delta_kwh > 0 THEN delta_kwh ELSE 0 END AS {exact})) AS added_kwh
  FROM crossings GROUP BY vin
)
SELECT h.vin,
  max(h.odometer_max_km) - min(h.odometer_min_km) AS distance_km,
  max(h.max_speed_kmh) AS max_speed_kmh,
  CASE WHEN sum(h.speeds) > 0
    THEN CAST(sum(h.speed_sum_kmh) AS DOUBLE) / sum(h.speeds) END AS mean_speed_kmh,
  min(h.soc_min_pct) AS soc_min_pct,
  max(h.soc_max_pct) AS soc_max_pct,
  CAST(coalesce(sum(h.energy_used_kwh), 0) + coalesce(max(b.used_kwh), 0) AS DOUBLE)
    AS energy_used_kwh,
  CAST(coalesce(sum(h.energy_added_kwh), 0) + coalesce(max(b.added_kwh), 0) AS DOUBLE)
    AS energy_added_kwh,
  sum(h.messages) AS messages
FROM hourly_stats h LEFT JOIN between_hours b ON b.vin = h.vin
GROUP BY h.vin
""".replace("{exact}", EXACT)


def hourly_state_sql() -> str:
    """Per vehicle-hour, the latest non-null value of each field and when it was seen; the
    position is taken as a pair (a fix with one coordinate missing is no position)."""
    parts = ["vin", "{hour}(ts) AS hour", "max(ts) AS last_ts", "max_by(source, ts) AS source"]
    for name in MEASURES:
        seen = (
            "lat IS NOT NULL AND lon IS NOT NULL"
            if name in ("lat", "lon")
            else f"{name} IS NOT NULL"
        )
        parts.append(f"max_by({name}, ts) FILTER (WHERE {seen}) AS {name}")
        parts.append(f"max(ts) FILTER (WHERE {seen}) AS {name}_at")
    return f"SELECT {', '.join(parts)} FROM silver_rows GROUP BY vin, {{hour}}(ts)"  # noqa: S608


def state_reduce_sql() -> str:
    """Vehicle states (per hour, per day or stored) reduced to the latest of each field."""
    parts = ["vin", "max(last_ts) AS last_ts", "max_by(source, last_ts) AS source"]
    for name in MEASURES:
        parts.append(f"max_by({name}, {name}_at) FILTER (WHERE {name}_at IS NOT NULL) AS {name}")
        parts.append(f"max({name}_at) AS {name}_at")
    return f"SELECT {', '.join(parts)} FROM states GROUP BY vin"  # noqa: S608  (our names)
