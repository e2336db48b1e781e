"""Sensor monitoring: gas sensors on subsea templates, matrix-profile anomalies, leak alarms."""
