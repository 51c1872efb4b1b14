# Zero Trust AI platform. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install dev run run-services migrate test unit integration lint format clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python backend/requirements.txt pyproject.toml
	$(BIN)/pip install --quiet -r backend/requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed ## Create .venv with the pinned runtime dependencies

dev: $(VENV)/.dev-installed ## .venv plus test and lint tools

run: install ## Start the platform standalone (no external services) on http://127.0.0.1:5000
	$(BIN)/python run.py --standalone

run-services: install migrate ## Start the web process against PostgreSQL/Redis/RabbitMQ (.env)
	$(BIN)/python run.py

migrate: install ## Apply database migrations (services mode; APP_MODE=standalone for SQLite)
	$(BIN)/flask db upgrade

test: dev ## Lint, then the whole test suite (unit, integration, end-to-end)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_ARGS)

unit: dev ## Only the fast unit tests
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: dev ## Only the tests against real services
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

lint: dev ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: dev ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## Remove the virtualenv, caches and the standalone database
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis instance
