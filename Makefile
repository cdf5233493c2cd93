# The two commands of the README. Both work on a fresh Debian machine whose only network is
# PyPI, Debian's packages and the npm registry.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := tools
BUN_VERSION := 1.4.4
BUN := $(TOOLS)/node_modules/.bin/bun
PORT ?= 3000

# No calls home, and every package manager on the configured registry.
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false
export NPM_CONFIG_REGISTRY ?= $(shell npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)
export PATH := $(CURDIR)/$(TOOLS)/node_modules/.bin:$(PATH)
export PUBLIC_URL ?= http://localhost:$(PORT)

.PHONY: help run test unit lint format deps dev-deps lock bun localstripe migrate seed browser clean bundle deploy clean-tree-check bench messages-extract messages-update messages-compile

help:
	@echo "make run   - install, migrate, seed demo data and serve on http://localhost:$(PORT)"
	@echo "             (prints the current demo links; NEW_DEMO_LINKS=1 revokes them and prints new ones)"
	@echo "make test  - install test tools, lint, and run the whole test suite (browser tests included)"
	@echo "make unit  - the unit tests only (under a minute)"
	@echo "make lint  - ruff: lint and format check of the whole tree"
	@echo "make bundle / make deploy - reflex export / reflex deploy without tools/, data/, test-artifacts/ (see README, Deploying)"
	@echo "make lock  - re-lock requirements*.txt (hashes) after editing requirements*.in"
	@echo "make bench - every benchmark in bench/ at sizes that finish in ~10 minutes; RATIO lines at the end"

# requirements.txt and requirements-dev.txt are locks (every transitive dependency, with hashes),
# compiled by `make lock` from the files people edit: requirements.in and requirements-dev.in.
PIP_VERSION := 26.3
PIP_INSTALL = $(PY) -m pip install --quiet --require-hashes --no-deps

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip==$(PIP_VERSION)

$(VENV)/.deps: requirements.txt | $(PY)
	$(PIP_INSTALL) -r requirements.txt
	$(PY) -m pip check
	touch $@

$(VENV)/.dev-deps: requirements-dev.txt requirements.txt | $(PY)
	$(PIP_INSTALL) -r requirements-dev.txt
	$(PY) -m pip check
	touch $@ $(VENV)/.deps

# Re-lock after editing a .in file (existing pins are kept; `make lock LOCK_ARGS=--upgrade` moves
# every pin, `LOCK_ARGS="--upgrade-package granian"` one). pip-tools lives in a throwaway venv,
# never in .venv. The locks are compiled for Python 3.11 on Linux (Debian 12, the Docker image).
PIP_TOOLS_VENV ?= $(or $(TMPDIR),/tmp)/portal-pip-tools
PIP_COMPILE = $(PIP_TOOLS_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --no-strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

lock:
	@test -x $(PIP_TOOLS_VENV)/bin/pip-compile || \
	  { $(PYTHON) -m venv $(PIP_TOOLS_VENV) && $(PIP_TOOLS_VENV)/bin/pip install --quiet pip-tools==7.6.2; }
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in

# The gettext catalogue (portal_app/i18n): .po files are committed, .mo files are built here.
# After changing customer text in the code: make messages-update, translate the new msgids in es, commit.
LOCALES := portal_app/i18n/locale
PYBABEL := $(VENV)/bin/pybabel
PO_FILES := $(wildcard $(LOCALES)/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

deps: $(VENV)/.deps $(MO_FILES)
dev-deps: $(VENV)/.dev-deps $(MO_FILES)

messages-extract: $(VENV)/.deps
	$(PYBABEL) extract -F babel.cfg --add-location=file --sort-by-file --no-wrap --omit-header -o $(LOCALES)/messages.pot portal_app

messages-update: messages-extract
	$(PYBABEL) update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-wrap --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date

messages-compile: $(MO_FILES)

$(LOCALES)/%/LC_MESSAGES/messages.mo: $(LOCALES)/%/LC_MESSAGES/messages.po | $(VENV)/.deps
	$(PYBABEL) compile -i $< -o $@

# Reflex would download bun from the web; the npm registry has it.
$(BUN):
	mkdir -p $(TOOLS)
	npm install --silent --no-audit --no-fund --prefix $(TOOLS) bun@$(BUN_VERSION)
	$(BUN) --version

bun: $(BUN)

# axe-core for the accessibility checks of the browser tests (injected by Playwright).
AXE := $(TOOLS)/node_modules/axe-core/axe.min.js
$(AXE): | $(BUN)
	npm install --silent --no-audit --no-fund --prefix $(TOOLS) bun@$(BUN_VERSION) axe-core@4.14.1

# localstripe (a Stripe API mock) for the Stripe integration tier, in a venv of its own: it pulls
# aiohttp & co., which must not move the app's pinned dependencies. Pinned with hashes.
LOCALSTRIPE_VENV := $(TOOLS)/localstripe-venv

$(LOCALSTRIPE_VENV)/.installed: requirements-localstripe.txt
	rm -rf $(LOCALSTRIPE_VENV)
	$(PYTHON) -m venv $(LOCALSTRIPE_VENV)
	$(LOCALSTRIPE_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-localstripe.txt
	touch $@

localstripe: $(LOCALSTRIPE_VENV)/.installed

migrate: deps
	$(VENV)/bin/reflex db migrate

seed: migrate
	$(PY) -m portal_app.billing seed

# The demo links printed are the current ones (emailed links keep working across restarts);
# `make run NEW_DEMO_LINKS=1` revokes them and prints new ones.
NEW_DEMO_LINKS ?=
run: deps bun seed
	@$(PY) -m portal_app.billing links $(if $(filter-out 0,$(NEW_DEMO_LINKS)),--new)
	$(VENV)/bin/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT)

# Debian's chromium for the browser tests (never `playwright install`), pdftotext for PDFs, nginx
# as the reverse proxy the browser tests run behind, caddy to validate deploy/Caddyfile.
browser:
	@if ! command -v chromium >/dev/null || ! command -v pdftotext >/dev/null || ! command -v nginx >/dev/null || ! command -v caddy >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils nginx caddy >/dev/null; \
	fi

lint: dev-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: dev-deps
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

unit: dev-deps
	$(PY) -m pytest -m unit -q

# The browser tests (tests/e2e: servers, nginx, Chromium) and the rest (unit, integration) run as two
# pytest processes side by side on the two cores, each with its own databases, ports and log files.
test: lint bun $(AXE) browser localstripe
	@if [ -z "$$TEST_DATABASE_URL" ] && $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 5432), 1)" 2>/dev/null; then \
	  export TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test; \
	  echo "PostgreSQL reachable: TEST_DATABASE_URL=$$TEST_DATABASE_URL"; \
	fi; \
	if [ -z "$$TEST_REDIS_URL" ] && $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 6379), 1)" 2>/dev/null; then \
	  export TEST_REDIS_URL=redis://127.0.0.1:6379/0; \
	  echo "Redis reachable: TEST_REDIS_URL=$$TEST_REDIS_URL"; \
	fi; \
	mkdir -p test-artifacts; \
	$(PY) -m pytest tests/unit tests/integration --durations=15 > test-artifacts/pytest-unit-integration.log 2>&1 & fast=$$!; \
	$(PY) -m pytest tests/e2e --durations=15; e2e=$$?; \
	wait $$fast; fast=$$?; \
	echo "=== unit and integration tests (ran beside the browser tests; test-artifacts/pytest-unit-integration.log)"; \
	cat test-artifacts/pytest-unit-integration.log; \
	echo "=== exit codes: unit+integration $$fast, e2e $$e2e"; \
	test $$fast -eq 0 -a $$e2e -eq 0

# Every benchmark at sizes that finish in about 10 minutes here (PostgreSQL too when reachable); each
# prints `RATIO <name> <value> target <target>` lines against a floor measured in the same run, and the
# RATIO lines are repeated together at the end. Never a pass/fail: timings belong here, not in tests.
BENCH_PG := postgresql+psycopg://postgres@127.0.0.1:5432/postgres
bench: dev-deps bun
	@mkdir -p test-artifacts; out=test-artifacts/bench.log; : > $$out; \
	pg=""; if $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 5432), 1)" 2>/dev/null; then pg="$(BENCH_PG)"; fi; \
	run() { echo "== $$*" | tee -a $$out; $(PY) "$$@" 2>&1 | tee -a $$out; }; \
	run bench/billing_run.py --n 10000; \
	if [ -n "$$pg" ]; then run bench/billing_run.py --n 10000 --database-url "$$pg"; fi; \
	run bench/console_search.py --size 20000 --runs 20; \
	if [ -n "$$pg" ]; then run bench/console_search.py --size 20000 --runs 20 --database-url "$$pg"; fi; \
	run bench/year_zip.py --invoices 1000 --rounds 5; \
	run bench/pdf.py --invoices 100 --rounds 3; \
	run bench/graceful_stop.py --size 5000 --rounds 3; \
	run bench/portal_load.py --loads 10; \
	run bench/portal_events.py --sessions 50 --rounds 5; \
	echo "== summary"; grep '^RATIO' $$out

# What `reflex export` / `reflex deploy` must never carry. Reflex 0.10.1 zips the whole app directory
# except hidden names (.venv, .states, .web, .env), __pycache__, folders holding a pyvenv.cfg and *.db
# files; it has no config option or ignore file, only --exclude-from-backend. tools/ is our bun
# (~200 MB), data/ the development secret_key and SQLite files (their -wal/-shm are not *.db),
# test-artifacts/ the screenshots of the browser tests.
BUNDLE_EXCLUDE := tools data test-artifacts
BUNDLE_FLAGS = $(foreach path,$(BUNDLE_EXCLUDE),$(if $(wildcard $(path)),--exclude-from-backend $(path)))

# make bundle [ARGS="--backend-only --zip-dest-dir /tmp/out"]: backend.zip and frontend.zip here.
bundle: deps bun
	$(VENV)/bin/reflex export $(BUNDLE_FLAGS) $(ARGS)

# make deploy ARGS="--project-name ... --envfile .env.production": Reflex Cloud.
deploy: deps bun
	$(VENV)/bin/reflex deploy $(BUNDLE_FLAGS) $(ARGS)

# Reflex writes .gitignore and reflex.lock/ on every init/compile: the committed files are exactly
# what it writes, so `make run` leaves the work tree clean. This builds the app once in a clean
# copy of the tracked files and fails on any file Reflex changed or left unignored.
clean-tree-check: dev-deps bun
	$(PY) -m pytest -q -p no:cacheprovider tests/integration/test_clean_tree.py

clean:
	rm -rf .web .states data test-artifacts
