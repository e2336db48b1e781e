"""Trips: on-demand CSV ingestion, similar-trip groups, weekly averages, pushed status."""
