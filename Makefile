# `make demo` and `make test` each bootstrap .venv on a fresh machine with Python 3.11.
# The venv is rebuilt only when pyproject.toml changes (the stamp file records it).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean browser

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

test: lint browser
	$(BIN)/pytest -n 2 -q

# the web UI's end-to-end tests drive Debian's chromium (browser downloads are not possible here)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the web UI tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } || \
	  echo "chromium could not be installed: the web UI tests will say so"; }

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
