# sopflow: two commands set everything up on a fresh machine.
#   make serve   install if needed, migrate, seed the demo, serve (SQLite, embedded Prefect)
#   make test    install if needed, run the checks, then the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test pytest check lint types contracts sops bench install clean schema

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/sopflow db upgrade
	$(BIN)/sopflow serve --demo $(SERVE_ARGS)

check: $(STAMP) lint types contracts sops

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

types: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

sops: $(STAMP)
	$(BIN)/sopflow sop validate sop_definitions/*.yaml
	$(BIN)/sopflow sop schema --check

schema: $(STAMP)
	$(BIN)/sopflow sop schema --write

test: check pytest

# the suite alone (SOPFLOW_TEST_DATABASE_URL=postgresql+psycopg://... runs it on PostgreSQL)
pytest: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
