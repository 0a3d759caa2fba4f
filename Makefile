# sopflow: two commands set everything up on a fresh machine.
#   make serve   install if needed, migrate, seed the demo, serve (SQLite, embedded Prefect)
#   make test    install if needed, run the checks, then the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test pytest check lint types contracts sops bench install clean schema soak

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

# the long reliability runs (tests/reliability, marker soak): load on SQLite and PostgreSQL,
# many kills, database and mail outages, fuzzing. SOAK_SCALE multiplies their counts and
# durations (.ci/run uses 0.1); the figures go to bench/results/soak-figures.jsonl
SOAK_SCALE ?= 1
SOAK_FIGURES := bench/results/soak-figures.jsonl
soak: $(STAMP)
	@mkdir -p bench/results && rm -f $(SOAK_FIGURES)
	SOAK_SCALE=$(SOAK_SCALE) SOPFLOW_RELIABILITY_FIGURES=$(CURDIR)/$(SOAK_FIGURES) \
	  $(BIN)/python -m pytest -q -m soak tests/reliability $(PYTEST_ARGS)
	@echo "== soak figures ($(SOAK_FIGURES)) =="; cat $(SOAK_FIGURES) 2>/dev/null || true

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
