# fleetlake — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
RUN := $(UV) run --frozen

.PHONY: uv install install-test install-bench demo test test-fast lint format bench bench-trips bench-trips-smoke clean

# The default install is lean (DuckDB engine); the tests also need the spark extra (parity).
uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

install: uv
	$(UV) sync --frozen --inexact --compile-bytecode

install-test: uv
	$(UV) sync --frozen --inexact --compile-bytecode --extra spark

demo: install
	$(RUN) fleetlake demo

# Two workers, a test file each at a time (module fixtures, such as the fuzzed servers, start once).
PYTEST_PARALLEL ?= -n 2 --dist loadfile

test: install-test
	$(RUN) pytest $(PYTEST_PARALLEL)

test-fast: install-test
	$(RUN) pytest $(PYTEST_PARALLEL) -m "not slow and not browser"

lint: install-test
	$(RUN) ruff format --check src tests benchmarks
	$(RUN) ruff check src tests benchmarks
	$(RUN) mypy

format: install
	$(RUN) ruff format src tests benchmarks
	$(RUN) ruff check --fix src tests benchmarks

install-bench: install-test
	$(UV) sync --frozen --inexact --compile-bytecode --extra spark --group bench

bench: bench-trips

# Trips at scale (issue 3): 1 M rows on both databases; ROWS=10000000 etc. by hand.
ROWS ?= 1000000
bench-trips: install-bench
	$(RUN) python -m benchmarks.trips_scale --rows $(ROWS) --db sqlite
	$(RUN) python -m benchmarks.trips_scale --rows $(ROWS) --db postgres

# CI: the same benchmark, small, for its consistency checks only (never its timings).
bench-trips-smoke: install-bench
	$(RUN) python -m benchmarks.trips_scale --rows 100000 --db sqlite --runs 3 --during-rows 20000 --out benchmarks/out/smoke
	$(RUN) python -m benchmarks.trips_scale --rows 100000 --db postgres --runs 3 --during-rows 20000 --out benchmarks/out/smoke

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
