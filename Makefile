# lithoscope: the two commands of the README.
#   make demo  installs everything and runs the main job on the embedded defaults
#   make test  installs everything (pip, and apt-get for PostgreSQL) and runs lint and all tests
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export KERAS_BACKEND ?= jax
# Offline: the data mirror beside the checkout when there is one (else the official sources).
MIRROR ?= $(firstword $(wildcard ../shared/data))
MIRROR_OPT := $(if $(MIRROR),--mirror $(MIRROR),)
# The default models the demo builds; it then identifies one RRUFF spectrum taken from the
# fetched zip into a temporary folder (no data file lives in this repository).
DEMO_MODEL ?= ensemble
DEMO_DIR := $(shell mktemp -d -t lithoscope-demo-XXXXXX 2>/dev/null || echo /tmp/lithoscope-demo)

.PHONY: demo test install system-deps lint pytest benchmarks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[all,test]"

# PostgreSQL server binaries for the MinDB tests on PostgreSQL (initdb, pg_ctl); Chromium and
# its driver for the web page's browser test (tests/service/test_browser.py).
system-deps:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -x /usr/bin/chromium ] \
		&& [ -x /usr/bin/chromedriver ]; then \
		echo "PostgreSQL server binaries, chromium and chromium-driver present"; \
	else \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql chromium \
			chromium-driver >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

pytest: install system-deps
	LITHOSCOPE_REQUIRE_POSTGRES=1 LITHOSCOPE_REQUIRE_BROWSER=1 $(BIN)/pytest -q

test: install system-deps lint pytest

demo: install
	$(BIN)/lithoscope db build
	$(BIN)/lithoscope db show forsterite
	$(BIN)/lithoscope db search --body moon --element Ti
	$(BIN)/lithoscope chem --oxides "SiO2=40.87,MgO=49.35,FeO=9.78" --basis olivine
	$(BIN)/lithoscope data ingest rruff-ima $(MIRROR_OPT)
	$(BIN)/lithoscope data ingest rruff-raman $(MIRROR_OPT)
	$(BIN)/lithoscope data ingest rruff-ir $(MIRROR_OPT)
	$(BIN)/lithoscope db info
	$(BIN)/lithoscope train --method raman --model $(DEMO_MODEL) --name raman-default --default
	$(BIN)/lithoscope train --method ir --model $(DEMO_MODEL) --name ir-default --default
	$(BIN)/python -m lithoscope.data.sample rruff-raman Forsterite $(DEMO_DIR) $(MIRROR_OPT)
	$(BIN)/lithoscope identify $(DEMO_DIR)/*.txt --top 3 --plot $(DEMO_DIR)/identify.png
	$(BIN)/lithoscope identify $(DEMO_DIR)/*.txt --top 3 --body moon --no-explain
	$(BIN)/lithoscope rock name --mode plagioclase=96 --mode orthopyroxene=4 --body moon --an 96
	@echo "plot: $(DEMO_DIR)/identify.png"

benchmarks: install
	$(BIN)/python benchmarks/mindb_build.py
	$(BIN)/python benchmarks/ingest.py $(MIRROR_OPT)
	$(BIN)/python benchmarks/preprocessing.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
