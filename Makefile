# Beffroi — the README's commands. `make run` serves the demo; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= beffroi-data
PIP_FLAGS ?= --disable-pip-version-check --quiet

.PHONY: run test lint typecheck pytest docs bench constraints clean install install-test

$(VENV)/.python-ok:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Erreur : Beffroi demande Python 3.11 ou plus récent ($(PYTHON) est trop ancien)."; \
	    echo "→ Pour corriger : make PYTHON=python3.11 …"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	@touch $@

$(VENV)/.installed: $(VENV)/.python-ok pyproject.toml constraints.txt
	@echo "Installation de Beffroi dans $(VENV)…"
	$(BIN)/pip install $(PIP_FLAGS) -c constraints.txt -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	@echo "Installation des dépendances de test…"
	$(BIN)/pip install $(PIP_FLAGS) -c constraints.txt -e '.[test]'
	@touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## run: install, initialise ./beffroi-data, load the demo EPCI, serve on http://127.0.0.1:8000
run: $(VENV)/.installed
	$(BIN)/beffroi --data-dir $(DATA_DIR) init
	$(BIN)/beffroi --data-dir $(DATA_DIR) demo
	$(BIN)/beffroi --data-dir $(DATA_DIR) serve

## test: lint, format check, types, then the whole test suite
test: lint typecheck pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

# One worker per core (pytest-xdist), each test file kept on one worker (its fixtures too).
pytest: $(VENV)/.installed-test
	$(BIN)/pytest -n auto --dist loadfile

## docs: regenerate docs/reference (settings, errors, CLI) from the code
docs: $(VENV)/.installed
	$(BIN)/beffroi docs

## bench: every benchmark beside its peer tool (peers get virtual environments of their own)
bench: $(VENV)/.installed-test
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/ingest.py
	cd bench && ../$(BIN)/python validate.py
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/indicators.py

## constraints: re-pin every dependency from a fresh virtual environment
constraints:
	rm -rf .venv-pin && $(PYTHON) -m venv .venv-pin
	.venv-pin/bin/pip install $(PIP_FLAGS) '.[test]'
	{ echo "# Exact pins of every runtime and test dependency (pip install -c constraints.txt ...)."; \
	  echo "# Regenerate: make constraints (fresh venv, pip freeze). DuckDB must stay 1.5.5 with its extension wheels."; \
	  .venv-pin/bin/pip freeze --exclude beffroi | sort -f; } > constraints.txt
	rm -rf .venv-pin

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
