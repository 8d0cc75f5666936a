# The two commands: `make run` (the whole system, embedded, with a live demo) and `make test`.
# `make run` installs what the product needs to run; `make test` adds the development tools
# and the real clients the tests drive (LibreOffice from Debian's packages).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
SYSTEM := $(VENV)/.installed-system

.PHONY: run test test-fast lint schemas bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $(RUNTIME)

$(DEV): pyproject.toml $(RUNTIME)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(DEV)

# Debian packages the tests need: a real spreadsheet program for the export test.
$(SYSTEM): deploy/test-packages.txt
	bash deploy/install-test-packages.sh deploy/test-packages.txt
	touch $(SYSTEM)

run: $(RUNTIME)
	$(VENV)/bin/contacts up

test: $(DEV) $(SYSTEM)
	$(PY) -m pytest

# The inner loop: the unit and integration rings, two processes (each starts its own stack).
test-fast: $(DEV) $(SYSTEM)
	$(PY) -m pytest -n 2 tests/unit tests/integration

lint: $(DEV)
	$(VENV)/bin/ruff check schemas services bench tests
	$(VENV)/bin/ruff format --check schemas services bench tests
	$(VENV)/bin/mypy schemas services bench
	$(VENV)/bin/lint-imports

schemas: $(DEV)
	$(PY) -m schemas.generate

bench: $(DEV)
	$(VENV)/bin/contacts bench

clean:
	rm -rf $(VENV) .pytest_cache
