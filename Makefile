# fleetlake — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
RUN := $(UV) run --frozen

.PHONY: install demo test test-fast lint format bench bench-trips clean

install:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen

demo: install
	$(RUN) fleetlake demo

test: install
	$(RUN) pytest

test-fast: install
	$(RUN) pytest -m "not slow and not browser"

lint: install
	$(RUN) ruff format --check src tests benchmarks
	$(RUN) ruff check src tests benchmarks
	$(RUN) mypy

format: install
	$(RUN) ruff format src tests benchmarks
	$(RUN) ruff check --fix src tests benchmarks

bench: bench-trips

bench-trips: install
	$(RUN) python benchmarks/trips_ingest.py --rows 1000000

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
