# The two commands: `make run` (the whole system, embedded, with a live demo) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint schemas bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/contacts up

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check schemas services bench tests
	$(VENV)/bin/mypy schemas services bench

schemas: $(STAMP)
	$(PY) -m schemas.generate

bench: $(STAMP)
	$(VENV)/bin/contacts bench

clean:
	rm -rf $(VENV) .pytest_cache
