# Two commands do all set-up: `make demo` and `make test` create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: demo test lint types unit integration infra e2e definition synth clean

$(STAMP): requirements.txt requirements-dev.txt requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c requirements.lock
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pipelines demo

definition: $(STAMP)
	$(BIN)/python -m pipelines definition configs/fraud-detector.yaml --out out/fraud-detector.pipeline.json

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy pipelines stacks app.py

test: lint types
	$(BIN)/python -m pytest

unit integration infra e2e: $(STAMP)
	$(BIN)/python -m pytest tests/$@

# The CDK app offline: `cdk synth` through the CLI pinned in package.json (Node 20).
synth: $(STAMP)
	npm ci --no-audit --no-fund
	PATH=$(CURDIR)/$(BIN):$$PATH npx cdk synth --quiet

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache out
