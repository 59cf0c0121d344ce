# Developer commands. `make demo` and `make test` are the two commands the README starts
# with; .ci/run runs `make test` exactly as a developer would.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup browser demo test lint bench clean

# Python packages into a virtual environment, lunr.js (and test tools) from npm.
setup: $(BIN)/digest node_modules/.package-lock.json

# npm first: the package (and so the editable install) includes lunr.js from node_modules.
$(BIN)/digest: pyproject.toml node_modules/.package-lock.json
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# Chromium and its driver from Debian's packages, for the browser tests.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver)
	@command -v java >/dev/null || \
	  ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends default-jre-headless)

# Build the demo digest from the sample listings in data/ and open it in a browser.
demo: setup
	$(BIN)/digest serve --open

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Everything CI checks: lint, types and the whole test suite (browser tests included).
test: setup browser lint
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf _site .digest-cache .pytest_cache .mypy_cache .ruff_cache
