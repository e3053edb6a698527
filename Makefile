# Two commands on a fresh machine: `make serve` and `make test`.
# Both install exactly what requirements.lock pins (with hashes); `make lock` refreshes it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LATEST := .venv-latest
# Test workers: one per core (pytest-xdist); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= auto
DATA_DIR ?= chamberlain-data

$(BIN)/chamberlain-installed: requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Test clients from npm, each from its lock file: the AWS SDK for JavaScript v3
# (tests/e2e/test_js_sdk.py) and axe-core (the console's accessibility check). Without npm
# their tests are skipped (in CI they fail instead).
NPM_DIRS := tests/e2e/js tests/e2e/axe
NPM_STAMPS := $(addsuffix /node_modules/.installed,$(NPM_DIRS))
%/node_modules/.installed: %/package-lock.json
	@if command -v npm >/dev/null; then \
	    npm ci --prefix $* --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the tests that need $* are skipped"; fi

.PHONY: install test lint typecheck lock test-latest bench-engine bench-api serve soak
install: $(BIN)/chamberlain-installed

test: install $(NPM_STAMPS)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

typecheck: install
	$(BIN)/mypy

lint: install
	$(BIN)/ruff check src tests benchmarks

# Resolve the newest versions pyproject.toml's ranges allow, for Python 3.11 on Linux.
lock:
	$(PY) -m pip install --quiet 'uv>=0.5'
	$(PY) -m uv pip compile pyproject.toml requirements-build.in --extra test --extra bench \
	    --python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes \
	    --upgrade -o requirements.lock

# The newest releases the ranges allow, in a separate environment: drift shows up here first.
test-latest:
	rm -rf $(LATEST)
	$(PY) -m venv $(LATEST)
	$(LATEST)/bin/pip install --quiet --upgrade pip
	$(LATEST)/bin/pip install --quiet --upgrade -e '.[test,bench]'
	$(LATEST)/bin/pip freeze --exclude-editable > $(LATEST)/versions.txt
	$(LATEST)/bin/ruff check src tests benchmarks
	$(LATEST)/bin/mypy
	$(LATEST)/bin/python -m pytest -n $(TEST_WORKERS)

bench-engine: install
	$(BIN)/python -m benchmarks.engine

bench-api: install
	$(BIN)/python -m benchmarks.api

# SIGKILL under write load, 15 rounds (SOAK_ARGS="--database-url URL" for PostgreSQL).
soak: install
	$(BIN)/python -m benchmarks.soak_kill --rounds 15 $(SOAK_ARGS)

serve: install
	$(BIN)/chamberlain serve --data-dir $(DATA_DIR) --init-if-missing
