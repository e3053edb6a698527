# Two commands on a fresh machine: `make serve` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/chamberlain-installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

.PHONY: install test lint bench-engine bench-api serve
install: $(BIN)/chamberlain-installed

test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests benchmarks

bench-engine: install
	$(BIN)/python -m benchmarks.engine

bench-api: install
	$(BIN)/python -m benchmarks.api

serve: install
	$(BIN)/chamberlain serve
