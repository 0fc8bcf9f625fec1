# Two commands on a fresh machine with Python 3.11 and make: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test lint typecheck unit demo sandbox cassettes bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml sandbox/pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]' -e ./sandbox
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src sandbox tests bench
	$(BIN)/ruff format --check src sandbox tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

demo: $(STAMP)
	$(BIN)/contactsync demo

sandbox: $(STAMP)
	$(BIN)/contactsync sandbox --write-config sandbox.toml

# Re-record the vcrpy cassettes against a fresh sandbox (see README, "Cassettes").
cassettes: $(STAMP)
	CONTACTSYNC_RECORD=1 $(BIN)/pytest -q tests/adapters

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,dev,bench]' -e ./sandbox
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build src/*.egg-info
