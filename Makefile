# Two commands do all set-up: `make demo` and `make test` create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

SCAN_VENV := .venv-scan
# Every core, a test file to a worker (pytest-xdist): a file's module fixtures are built once, session
# fixtures (the CDK synthesis, the 120-day stream) once per worker.
PYTEST := $(BIN)/python -m pytest -n auto --dist loadfile
SCAN_STAMP := $(SCAN_VENV)/.installed

.PHONY: demo test lint types unit integration infra e2e definition synth deploy clean mutation browser

$(STAMP): requirements.txt requirements-dev.txt requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c requirements.lock
	touch $(STAMP)

# checkov, the second IaC scanner (tests/infra/test_scan.py), in a venv of its own: its pins differ.
$(SCAN_STAMP): requirements-scan.txt requirements-scan.lock
	test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet -r requirements-scan.txt -c requirements-scan.lock
	touch $(SCAN_STAMP)

export CHECKOV := $(CURDIR)/$(SCAN_VENV)/bin/checkov

demo: $(STAMP)
	$(BIN)/python -m pipelines demo

definition: $(STAMP)
	$(BIN)/python -m pipelines definition configs/fraud-detector.yaml --out out/fraud-detector.pipeline.json

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy pipelines stacks app.py

test: lint types $(SCAN_STAMP) browser
	$(PYTEST)

# The e2e test reads the demo's report in headless Chromium: Debian's package, installed once (as
# root, or through sudo). Elsewhere, install Chromium yourself and put it on PATH.
BROWSER_MISSING := make test needs Chromium for the e2e report test: install it (Debian: apt-get install chromium) or put chromium on PATH
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1 \
		|| { command -v apt-get >/dev/null 2>&1 || { echo "$(BROWSER_MISSING)" >&2; exit 1; }; \
		     if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
		     else echo "$(BROWSER_MISSING)" >&2; exit 1; fi; \
		     $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# Mutation testing of the decision modules: `make mutation`, or one module with
# `make mutation MODULES=pipelines.gates.rules`. Minutes per module; not part of `make test`.
mutation: $(STAMP)
	$(BIN)/python -m tests.mutation.report $(MODULES)

unit integration: $(STAMP)
	$(PYTEST) tests/$@

e2e: $(STAMP) browser
	$(PYTEST) tests/$@

infra: $(STAMP) $(SCAN_STAMP)
	$(PYTEST) tests/$@

# The CDK app offline: `cdk synth` through the CLI pinned in package.json (Node 20). cdk.json runs
# the app with .venv's python, so `npx cdk ...` needs no activated venv.
synth: $(STAMP)
	npm ci --no-audit --no-fund
	npx cdk synth --quiet

# With AWS credentials, after `npx cdk bootstrap aws://ACCOUNT/REGION` once per account and region.
deploy: $(STAMP)
	npm ci --no-audit --no-fund
	npx cdk deploy --all

clean:
	rm -rf $(VENV) $(SCAN_VENV) .mypy_cache .ruff_cache .pytest_cache out
