# Self-documenting Makefile: `make` (or `make help`) lists every target with a `## ` comment.
# On a fresh clone, any target that needs Python builds the virtualenv first.

VENV ?= .venv
PY = $(VENV)/bin/python
STAMP = $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install data processed test lint lab clean

help: ## Show this list of targets
	@echo "Usage: make <target>   (VENV=$(VENV))"
	@echo
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z0-9_-]+:.*?## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(STAMP) ## Create the virtualenv and install the package with dev tools (only when needed)

# Reinstalls only when pyproject.toml changes (or the stamp is gone).
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev,test]'
	touch $@

data: $(STAMP) ## Fetch and verify the raw upstream files into data/raw (no-op when present)
	$(PY) -m ospo_survey fetch

processed: $(STAMP) data ## Build the processed tables in data/processed
	$(PY) -m ospo_survey build

test: $(STAMP) ## Run the test suite
	$(PY) -m pytest

lint: $(STAMP) ## Check the code with ruff
	$(PY) -m ruff check .

lab: $(STAMP) ## Start JupyterLab in the project folder
	$(VENV)/bin/jupyter lab --notebook-dir=.

clean: ## Delete data/processed and reports contents (never data/raw)
	find data/processed reports -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
