"""fleetlake: fleet and sensor telemetry → Parquet lake → SQL → API, CLI and dashboard."""

__version__ = "0.1.0"
