# MLMeta. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The real zenml client, for the end-to-end tests in tests/e2e (kept apart from MLMeta's own venv).
ZENML_VENV ?= .venv-zenml
# The real ZenML server (zenml[server]) and the load generator of `make bench`, apart from both.
BENCH_VENV ?= .venv-bench
export VENV ZENML_VENV

.DEFAULT_GOAL := help
.PHONY: help install run test lint format bench bench-inprocess clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed ## Create .venv and install the pinned requirements

$(ZENML_VENV)/.installed: requirements-e2e.txt
	test -x $(ZENML_VENV)/bin/python || $(PYTHON) -m venv $(ZENML_VENV)
	$(ZENML_VENV)/bin/pip install --quiet -r requirements-e2e.txt
	touch $@

run: install $(ZENML_VENV)/.installed ## Migrate, bootstrap, then serve on http://127.0.0.1:8000 (gunicorn + Celery worker; .venv-zenml is the local runner's Python)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap
	bin/serve

# Debian's chromium, driven by Playwright in the browser e2e tests (never `playwright install`).
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "No $(CHROMIUM): the browser tests skip (CI fails them); install Debian's chromium package."; fi

# pytest-xdist workers of `make test`: whole modules each, in the order tests/conftest.py gives them.
TEST_WORKERS ?= 2
test: install $(ZENML_VENV)/.installed $(CHROMIUM) ## Run the whole test suite, e2e included (SQLite, or DATABASE_URL / CELERY_BROKER_URL when set)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

lint: install ## ruff and the migrations check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

format: install ## Format the code with ruff
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

$(BENCH_VENV)/.installed: bench/requirements.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet -r bench/requirements.txt
	touch $@

# BENCH_ARGS, e.g. BENCH_ARGS="--runs 1000 --targets zenml-sqlite,mlmeta-sqlite", or
# BENCH_ARGS="--scales 1000,100000" (1,000 runs seeded over the API, then grown to 100,000 by SQL copies
# and measured again): see bench/compare.py --help.
bench: install $(ZENML_VENV)/.installed $(BENCH_VENV)/.installed ## MLMeta against the real ZenML server over HTTP (table + bench/results/*.json)
	$(BENCH_VENV)/bin/python bench/compare.py $(BENCH_ARGS)

bench-inprocess: install ## MLMeta's own API and dashboard timed in-process (bench/run.py)
	$(PY) bench/run.py

clean: ## Remove .venv, .venv-zenml, .venv-bench and var/ (the SQLite database, generated secrets)
	rm -rf $(VENV) $(ZENML_VENV) $(BENCH_VENV) var
