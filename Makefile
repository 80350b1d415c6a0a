# The README's commands. `make run` and `make test` work on a fresh machine with Python 3.10+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= fancyzhx/ag_news
ARGS   ?=
UI_PORT ?= 5000
SERVE_PORT ?= 5001
MODEL ?= deep-text-clustering
export MLFLOW_TRACKING_URI ?= sqlite:///mlflow.db
# `mlflow run` itself: warnings and errors only; the run prints its own progress and summary.
export MLFLOW_LOGGING_LEVEL ?= WARNING

.PHONY: run test test-fast bench ui serve clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

## Set up and run the default study (`mlflow run .`) on DATA (a hub id or a local file).
run: $(BIN)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/mlflow run . --env-manager local --experiment-name deep-text-clustering -P data=$(DATA) $(ARGS)

## Set up and run the whole test suite (installs Chromium and PostgreSQL from Debian when root; else those tests
## skip), then the speed benchmarks once each as tests (`make bench` times them).
test: $(BIN)/.installed
	@scripts/system_deps.sh
	$(BIN)/python -m pytest -q --durations=15
	$(BIN)/python -m pytest -q benchmarks --benchmark-disable  # the speed benchmarks once each, untimed

## Everything but the slow, end-to-end, browser and PostgreSQL tests.
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -q -m "not slow and not browser and not postgres"

## Speed, scale, quality and selection benchmarks into benchmarks/RESULTS.md (not part of `make test`; hours on 2 cores: the selection part runs 30-trial studies on 20,000 texts).
bench: $(BIN)/.installed
	$(BIN)/python -m benchmarks

## The registered champion behind MLflow's scoring server: POST texts to http://127.0.0.1:5001/invocations
serve: $(BIN)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/mlflow models serve -m models:/$(MODEL)@champion \
		--env-manager local -h 127.0.0.1 -p $(SERVE_PORT) -w 1

## The MLflow UI on http://127.0.0.1:5000 (UI_PORT to move it)
ui: $(BIN)/.installed
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port $(UI_PORT)

clean:
	rm -rf mlruns mlartifacts mlflow.db optuna.db .pytest_cache .benchmarks
