"""Realistic synthetic data for every domain: demo, tests and benchmarks."""
