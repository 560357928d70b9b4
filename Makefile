# NAS developer entry points. `make test` and `make local` set up everything they need on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12, the Lambda runtime's version: python3.12 on PATH, else pyenv's, else stop with a message.
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { echo "$$p"; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CDK := node_modules/.bin/cdk
# The console (console/): npm packages, then the esbuild bundle in console/dist (with a size check).
CONSOLE_DEPS := console/node_modules/.package-lock.json
CONSOLE := console/dist/app.js
CONSOLE_SOURCES := $(shell find console/src console/test -type f 2>/dev/null) console/build.mjs console/tsconfig.json
STAGE ?= dev

.PHONY: help setup console test lint format typecheck synth local bench-local bench-search bench-storage bench-voi cfn-lint bench ci clean openapi fuzz cost

help:
	@echo "make test      run the test suite (sets up .venv on first use)"
	@echo "make local     run the service locally: moto, pollers, API and console on :8080, demo data (nas local --demo)"
	@echo "make console   build the console (console/dist) with its bundle-size check"
	@echo "make bench-local  local mode throughput and put->alert latency"
	@echo "make synth     cdk synth for STAGE=$(STAGE) into cdk.out/"
	@echo "make bench     pipeline cost per read vs orjson parsing (prints name=value figures)"
	@echo "make bench-storage  measured pack and Parquet sizes behind the storage classes"
	@echo "make bench-search  searches over 30 M stored reads through the DuckDB engine (name=value figures)"
	@echo "make bench-voi 1,000,000-row VOI list import (and a 1 % changed re-import) into nas local"
	@echo "make cost      a stage's cost a month at 90 M reads a day, from measured figures (docs/cost.md)"
	@echo "make fuzz      schemathesis against local mode, long run (make test runs a short one)"
	@echo "make openapi   regenerate docs/openapi.json from the routes"
	@echo "make lint | typecheck | cfn-lint | ci | clean"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12 not found: install it (e.g. pyenv install 3.12) or set PYTHON=" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CONSOLE_DEPS): console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CONSOLE): $(CONSOLE_DEPS) $(CONSOLE_SOURCES)
	cd console && node build.mjs

console: $(CONSOLE)

setup: $(STAMP) $(CDK) $(CONSOLE)

test: $(STAMP) $(CONSOLE)
	$(BIN)/python -m pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP) $(CONSOLE_DEPS)
	$(BIN)/mypy
	cd console && node_modules/.bin/tsc --noEmit -p .

synth: $(STAMP) $(CDK) $(CONSOLE)
	$(CDK) synth --quiet -c stage=$(STAGE)
	@ls cdk.out/*.template.json

cfn-lint: synth
	$(BIN)/cfn-lint --config-file .cfnlintrc.yaml

# 200,000 reads through match and archive against a 1,000,000-entry VOI set (about 3 minutes).
bench: $(STAMP)
	$(BIN)/python benchmarks/pipeline.py

# Pack sizes at several per-shard rates and Parquet bytes per row, from the archive consumer (seconds).
bench-storage: $(STAMP)
	$(BIN)/python benchmarks/storage_sizes.py
# Searches of each type over 30,000,000 reads (90 days, 2,000 cameras) in the production layout, through
# the DuckDB engine. The store is built once (about 2 GB, several minutes) under .bench-data/ and kept.
bench-search: $(STAMP)
	@mkdir -p .bench-data
	set -o pipefail; $(BIN)/python benchmarks/search.py | tee .bench-data/bench-search.txt

# A 1,000,000-row DVLA list imported into local mode, then again with 1 % of rows changed (about 2 minutes).
bench-voi: $(STAMP)
	$(BIN)/python benchmarks/voi_import.py

# The cost of a stage a month at 90,000,000 reads a day kept 12 months, from figures measured now and
# London list prices (infra/prices-eu-west-2.toml); docs/cost.md. About a minute.
cost: $(STAMP)
	$(BIN)/python benchmarks/cost.py

# The whole service on this machine (moto, pollers, local API gateway) with demo data; Ctrl-C stops it.
local: $(STAMP) $(CONSOLE)
	$(BIN)/nas local --demo

# Local mode's sustained reads/s and put->alert p95 at rising simulator rates (a few minutes).
bench-local: $(STAMP)
	$(BIN)/python benchmarks/local_throughput.py

ci: lint typecheck test cfn-lint

clean:
	rm -rf $(VENV) node_modules console/node_modules console/dist console/build cdk.out .mypy_cache .pytest_cache .ruff_cache .hypothesis lambdas/*.egg-info

# The committed OpenAPI document (docs/openapi.json), regenerated from the routes.
openapi: $(STAMP)
	$(BIN)/python -m nas.api.openapi > docs/openapi.json

# The long fuzzing run: schemathesis against local mode, every phase, many examples per operation.
fuzz: $(STAMP)
	NAS_FUZZ_EXAMPLES=$${NAS_FUZZ_EXAMPLES:-150} NAS_FUZZ_PHASES=examples,coverage,fuzzing,stateful NAS_FUZZ_ALL_PATHS=1 \
		$(BIN)/python -m pytest -p no:cacheprovider tests/fuzz
