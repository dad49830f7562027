# Self-documenting Makefile: `make` (or `make help`) lists every target with a `## ` comment.
# On a fresh clone, any target that needs Python builds the virtualenv first.

VENV ?= .venv
PY = $(VENV)/bin/python
STAMP = $(VENV)/.installed
# Every dependency (runtime, dev, test) pinned with hashes for Python 3.11 on Linux x86_64.
LOCK = requirements.lock

.DEFAULT_GOAL := help
.PHONY: help install lock data processed reports release test unit lint lab clean

help: ## Show this list of targets
	@echo "Usage: make <target>   (VENV=$(VENV))"
	@echo
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z0-9_-]+:.*?## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(STAMP) ## Create the virtualenv and install the locked dependencies (only when needed)

# Reinstalls only when pyproject.toml or the lock changes (or the stamp is gone): first exactly
# the locked versions, hash-checked, then the package itself, editable, adding nothing.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --require-hashes -r $(LOCK)
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	touch $@

# After editing the dependencies in pyproject.toml: pins what is new, keeps the other pins
# (`make lock LOCK_FLAGS=--upgrade` moves everything to the newest versions), then reinstall.
lock: | $(STAMP) ## Update requirements.lock from pyproject.toml (pip-compile, with hashes)
	$(PY) -m piptools compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links --extra dev --extra test \
		--output-file $(LOCK) $(LOCK_FLAGS) pyproject.toml

data: $(STAMP) ## Fetch and verify the raw upstream files into data/raw (no-op when present)
	$(PY) -m ospo_survey fetch

# raw files + codebooks + the code that reads, harmonises and weights -> data/processed
PROCESSED := data/processed/manifest.json
PROCESSED_DEPS := $(STAMP) $(wildcard ospo_survey/core/*.py ospo_survey/ingest/*.py \
	ospo_survey/inference/*.py ospo_survey/inference/*/*.py ospo_survey/processing/*.py \
	ospo_survey/variables.yaml ospo_survey/codebooks/*.yaml ospo_survey/targets/*.yaml \
	ospo_survey/registry/*.csv)
RAW_MARK := data/raw/LICENSE

processed: $(PROCESSED) ## Build the processed tables in data/processed (only when inputs changed)

$(PROCESSED): $(PROCESSED_DEPS) | $(RAW_MARK)
	$(PY) -m ospo_survey build

# --- Research reports ---------------------------------------------------------------------
# One target per page, so only pages whose inputs changed are rebuilt and `make -j2 reports`
# builds two at a time. The trends page also writes reports/claims/ (the claims it checks
# span the years, as the trends do; claims.yaml is among PAGE_DEPS). Pages read data/processed only (raw -> processed -> pages): each depends
# on the processed tables, its notebook, the page code and the templates, never on data/raw.
YEARS := $(sort $(patsubst ospo_survey/codebooks/%.yaml,%,$(wildcard ospo_survey/codebooks/[0-9][0-9][0-9][0-9].yaml)))
YEAR_PAGES := $(YEARS:%=reports/%/index.html)
TRENDS_PAGE := reports/trends/index.html
RELEASE := reports/data/datapackage.json
CODEBOOK_PAGE := reports/codebook/index.html
BENCHMARK_PAGE := reports/benchmark/index.html
QUESTION_PAGES := reports/questions/index.html
PAGE_DEPS := $(STAMP) $(wildcard ospo_survey/*.py ospo_survey/*/*.py ospo_survey/*/*/*.py \
	ospo_survey/*.yaml ospo_survey/templates/*/*.j2 ospo_survey/templates/*/*.json \
	ospo_survey/templates/*/static/*)

reports: reports/index.html ## Build the report site: reports/<year>/, reports/trends/, index
	@if [ -s $(QUEUE) ]; then $(PY) -m ospo_survey site --queue $(QUEUE); fi

# `make reports` builds its stale pages in one process: each stale page's rule below only adds
# the page's name to $(QUEUE), and the `reports` recipe then builds what is queued
# (`ospo-survey site`: as many pages at a time as -j allows, each worker running its notebooks
# in one kernel whose namespace is emptied before each page, then the index). This saves
# starting Python, papermill, a kernel and the page code once per page. A page named as a goal
# (`make reports/2022/index.html`, `make release`) is built by its own rule directly, in a new
# kernel; a queue left by a failed build is built by the next `make reports`.
QUEUE := reports/.queue
BATCH := $(filter reports,$(MAKECMDGOALS))
# $(call page,<name for ospo-survey site>,<ospo-survey command that builds it alone>)
page = $(if $(BATCH),@mkdir -p reports && echo $(1) >> $(QUEUE),$(PY) -m ospo_survey $(2))

reports/index.html: $(RELEASE) $(TRENDS_PAGE) $(YEAR_PAGES) $(CODEBOOK_PAGE) $(QUESTION_PAGES) \
	$(BENCHMARK_PAGE)
	$(call page,index,index)

# A year page reads its own year's processed rows and the previous year's (its key findings
# compare the two). data/processed/<year>/inputs.json is rewritten by the build only when what
# that year is built from changed, and make looks at its time again after the build: touching
# one year's codebook rebuilds that year's page and the next year's, the trends and codebook
# pages and the release (which read every year), not every page; a touch that changes no
# content rebuilds only data/processed.
PROCESSED_STAMPS := $(YEARS:%=data/processed/%/inputs.json)
$(PROCESSED_STAMPS): $(PROCESSED) ;
PREVIOUS_YEARS := $(wordlist 1,$(words $(YEARS)),none $(YEARS))
define YEAR_PAGE_INPUTS
reports/$(1)/index.html: data/processed/$(1)/inputs.json $(if $(filter none,$(2)),,data/processed/$(2)/inputs.json)
endef
$(foreach pair,$(join $(YEARS),$(addprefix :,$(PREVIOUS_YEARS))),\
  $(eval $(call YEAR_PAGE_INPUTS,$(word 1,$(subst :, ,$(pair))),$(word 2,$(subst :, ,$(pair))))))

$(YEAR_PAGES): reports/%/index.html: notebooks/report.ipynb $(PAGE_DEPS)
	$(call page,$*,report $*)

$(TRENDS_PAGE): notebooks/trends.ipynb $(PROCESSED_STAMPS) $(PAGE_DEPS)
	$(call page,trends,report trends)

# The open data release: processed tables -> reports/data (CSV, Parquet, datapackage.json),
# replaced whole; the index links it.
release: $(RELEASE) ## Write the open data release into reports/data (Frictionless Data Package)

$(RELEASE): $(PROCESSED_STAMPS) $(PAGE_DEPS) ospo_survey/release.yaml
	$(call page,release,export)

$(CODEBOOK_PAGE): $(PROCESSED_STAMPS) $(PAGE_DEPS)
	$(call page,codebook,report codebook)

# One page per harmonised question (reports/questions/<variable>/index.html) and their list,
# written together by one process that loads the survey design once; they read every year.
$(QUESTION_PAGES): $(PROCESSED_STAMPS) $(PAGE_DEPS)
	$(call page,questions,report questions)

# The peer benchmark: every profile its controls allow, pooled 2022-2024, computed at build
# and embedded as aggregates (no notebook, like the codebook page).
$(BENCHMARK_PAGE): $(PROCESSED_STAMPS) $(PAGE_DEPS)
	$(call page,benchmark,benchmark --page)

# Raw files are fetched once (order-only: their content is pinned by registry/files.csv,
# and the package verifies each file's sha256 when it reads it).
$(RAW_MARK): | $(STAMP)
	$(PY) -m ospo_survey fetch

test: $(STAMP) ## Run the test suite
	$(PY) -m pytest

unit: $(STAMP) ## Run the unit tests only: no mirror or data needed, seconds
	$(PY) -m pytest -m "not data"

lint: $(STAMP) ## Check the code with ruff
	$(PY) -m ruff check .

lab: $(STAMP) ## Start JupyterLab in the project folder
	$(VENV)/bin/jupyter lab --notebook-dir=.

clean: ## Delete data/processed and reports contents (never data/raw)
	find data/processed reports -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
