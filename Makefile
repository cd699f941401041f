# Two commands set up everything on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench validation clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Equipoise needs Python 3.11 or newer: make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# The trial server on 127.0.0.1:8000 with an embedded SQLite database (in .equipoise-demo/), the demo trial
# filled with 320 virtual patients over five months, enough for its first interim look to be due (once: a second
# run keeps them), and one demo user per role; it prints the URL and how to log in.
run: $(STAMP)
	$(BIN)/equipoise demo --host 127.0.0.1 --port 8000 --data-dir .equipoise-demo --protocol examples/covid19-msc-rct.yaml --patients 320

test: lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks validation
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# The validation pack of this commit (VAL-1): the whole suite with CI=true, joined with docs/traceability.md.
validation: $(STAMP)
	$(BIN)/python validation/pack.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build src/*.egg-info
