# Madina — the front door. `make demo` to see it run, `make test` before you push.
# Only a Python 3.11+ interpreter from the machine is assumed; everything else lands in .venv.

PYTHON ?= $(firstword $(foreach p,python3.11 python3.12 python3.13 python3,$(shell command -v $(p) 2>/dev/null)))
VENV := .venv
BIN := $(VENV)/bin
# Installation is redone only when pyproject.toml changes (or the venv is recreated).
STAMP := $(VENV)/.installed
# xdist pays ~1 s of worker start-up and wins as soon as the suite takes longer than a few seconds.
PYTEST_ARGS ?= -n auto
# Two uvicorn workers share the SQLite file: the 2-core machine the targets are set for.
BENCH_ARGS ?= --workers 2
HOST ?= 127.0.0.1
PORT ?= 1026
DB ?= madina.db
SPEED ?= 60
SEED ?= 1026

.PHONY: demo test serve bench lint install clean

# The demo's database lives in a temporary directory unless DEMO_DIR names one to keep.
demo: $(STAMP)
	$(BIN)/madina demo --host $(HOST) --port $(PORT) --speed $(SPEED) --seed $(SEED) \
		$(if $(DEMO_DIR),--data-dir $(DEMO_DIR))

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

serve: $(STAMP)
	$(BIN)/madina serve --host $(HOST) --port $(PORT) --db $(DB)

bench: $(STAMP)
	@command -v wrk >/dev/null || { echo "wrk missing: installing the Debian package"; \
		apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.suite

lint: $(STAMP)
	$(BIN)/ruff check .

install: $(STAMP)

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is needed (python3.11 or newer on PATH)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "$(PYTHON) is older than 3.11; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,demo]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
