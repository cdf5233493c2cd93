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

.PHONY: help run test unit lint format deps dev-deps bun migrate seed browser clean messages-extract messages-update messages-compile

help:
	@echo "make run   - install, migrate, seed demo data and serve on http://localhost:$(PORT)"
	@echo "make test  - install test tools, lint, and run the whole test suite (browser tests included)"
	@echo "make unit  - the unit tests only (under a minute)"
	@echo "make lint  - ruff: lint and format check of the whole tree"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.deps: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements-dev.txt requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.deps

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

migrate: deps
	$(VENV)/bin/reflex db migrate

seed: migrate
	$(PY) -m portal_app.billing seed

run: deps bun seed
	@$(PY) -m portal_app.billing links
	$(VENV)/bin/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT)

# Debian's chromium for the browser tests (never `playwright install`), pdftotext for PDFs, nginx
# as the reverse proxy the browser tests run behind.
browser:
	@if ! command -v chromium >/dev/null || ! command -v pdftotext >/dev/null || ! command -v nginx >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils nginx >/dev/null; \
	fi

lint: dev-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: dev-deps
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

unit: dev-deps
	$(PY) -m pytest -m unit -q

test: lint bun $(AXE) browser
	@if [ -z "$$TEST_DATABASE_URL" ] && $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 5432), 1)" 2>/dev/null; then \
	  export TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test; \
	  echo "PostgreSQL reachable: TEST_DATABASE_URL=$$TEST_DATABASE_URL"; \
	fi; \
	if [ -z "$$TEST_REDIS_URL" ] && $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 6379), 1)" 2>/dev/null; then \
	  export TEST_REDIS_URL=redis://127.0.0.1:6379/0; \
	  echo "Redis reachable: TEST_REDIS_URL=$$TEST_REDIS_URL"; \
	fi; \
	$(PY) -m pytest

clean:
	rm -rf .web .states data test-artifacts
