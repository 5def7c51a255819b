# Switchboard: `make run` (quickstart with demo data) and `make test` (the suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Without a STRIPE_SECRET_KEY of your own, `make run` starts the offline Stripe
# emulator on this port and points billing at it.
STRIPE_EMULATOR_PORT ?= 12111

# The test profile: PostgreSQL and Redis on this machine (started if down).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchboard
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: help venv run worker migrate seed test test-fast lint format typecheck services browser bench clean

help:
	@echo "make run        start the portal, a Celery worker and beat with demo data (http://127.0.0.1:$(PORT))"
	@echo "make test       lint, type-check and run the whole suite on PostgreSQL, Redis and Chromium"
	@echo "make test-fast  the suite without the browser tests"
	@echo "make lint       ruff check, ruff format --check, import-linter"
	@echo "make format     apply ruff's formatting and fixes"
	@echo "make bench      run the benchmarks under bench/ (results in bench/results/)"

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

migrate: venv
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	@echo "Switchboard: http://127.0.0.1:$(PORT)  (sign in as alice@acme.test / switchboard-demo; Ctrl-C stops everything)"
	@if [ -z "$$STRIPE_SECRET_KEY" ]; then \
		echo "Billing: no STRIPE_SECRET_KEY set, so the offline Stripe emulator runs on port $(STRIPE_EMULATOR_PORT)"; \
		export STRIPE_SECRET_KEY=sk_test_emulator STRIPE_API_BASE=http://127.0.0.1:$(STRIPE_EMULATOR_PORT) \
			STRIPE_WEBHOOK_SECRET=whsec_quickstart_emulator STRIPE_EMULATOR_PORT=$(STRIPE_EMULATOR_PORT); \
		$(BIN)/python manage.py billing_forget_stripe_ids --if-emulator; \
	fi; \
	PORT=$(PORT) $(BIN)/honcho --procfile Procfile.quickstart start

services:
	scripts/ensure-services

browser:
	scripts/ensure-browser

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: venv
	$(BIN)/mypy

test: venv services browser lint typecheck
	DJANGO_ENV=test DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/pytest

test-fast: venv services
	DJANGO_ENV=test DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/pytest -m "not e2e"


bench: venv services
	DJANGO_ENV=test DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/python -m bench

clean:
	rm -rf var staticfiles .pytest_cache .mypy_cache .ruff_cache
