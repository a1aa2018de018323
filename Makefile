# `make demo` and `make test` each bootstrap .venv on a fresh machine with Python 3.11.
# The venv is rebuilt only when pyproject.toml changes (the stamp file records it).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/daap demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples docs/gen_cli_reference.py
	$(BIN)/ruff format --check src tests benchmarks examples docs/gen_cli_reference.py
	$(BIN)/mypy src
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
