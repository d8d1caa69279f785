# Everything a fresh machine needs comes from here: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PACKAGES := tui collectors actions simcluster
# The tests mostly wait on timers and sockets: one worker per core (at most 4) halves the time.
PYTEST_WORKERS ?= --numprocesses=auto --maxprocesses=4

.PHONY: test lint typecheck contracts pytest demo bench clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check $(PACKAGES) tests benchmarks
	$(BIN)/ruff format --check $(PACKAGES) tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_WORKERS) $(PYTEST_ARGS)

test: lint typecheck contracts pytest

demo: $(STAMP)
	$(BIN)/asr-cache-tui --demo $(SCENARIO)

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
