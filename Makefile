# pretty-meter: `make run` starts the product, `make test` runs every test.
# Both create .venv and install into it idempotently (a second run installs nothing).

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DATA ?= data
HOST ?= 127.0.0.1
PORT ?= 8000
INSTALL_STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
DIST ?= dist
FRONT_STAMP := frontend/node_modules/.installed
FRONT_SOURCES := $(shell find frontend/src frontend/public frontend/index.html frontend/vite.config.* frontend/tsconfig*.json -type f 2>/dev/null)

.PHONY: run test install web demo lint pytest webtest browser bench dist fuzz soak clean-demo

$(INSTALL_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[train,serve,dev]'
	@touch $@

install: $(INSTALL_STAMP)

$(FRONT_STAMP): frontend/package-lock.json
	cd frontend && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@

frontend/dist/index.html: $(FRONT_STAMP) $(FRONT_SOURCES)
	cd frontend && npm run build --silent

web: frontend/dist/index.html

## The demo model, made through the real pipeline and cached under $(DATA)/demo.
demo: install
	$(BIN)/pretty-meter demo --out $(DATA)/demo

## The whole product on http://$(HOST):$(PORT)/ (page + API); Ctrl+C stops it. The page is
## installed and built while Python installs and the demo trains (npm mostly waits on the network
## and the disk, the demo on the CPU).
run:
	@$(MAKE) --no-print-directory -j2 web demo
	$(BIN)/pretty-meter serve --man $(DATA)/demo/models/man --woman $(DATA)/demo/models/woman \
		--web-dir frontend/dist --host $(HOST) --port $(PORT)

browser:
	@bash scripts/ensure-chromium.sh

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

webtest: web
	cd frontend && npm run lint --silent && npm test --silent

## pytest on PYTEST_WORKERS processes (pytest-xdist): the heaviest test files go first, each file
## whole to one worker (tests/conftest.py), and the workers share the models they build.
PYTEST_WORKERS ?= 2
pytest: install web browser
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

## Everything: lint, format, types, the page's unit tests, pytest (incl. the browser end-to-end run).
test: lint webtest pytest

$(BENCH_STAMP): $(INSTALL_STAMP) pyproject.toml
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[train,serve,dev,bench]'
	@touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python bench/pipeline_bench.py
	$(BIN)/python bench/detect_bench.py
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/serve_load.py

## The wheel in $(DIST)/, carrying the built page as package data (setup.py copies
## frontend/dist into prettymeter/static/): `pip install "dist/pretty_meter-*.whl[serve]"` then
## `pretty-meter serve --man M --woman W` serves the page at / with no checkout around.
dist: install web
	rm -rf build $(DIST)/pretty_meter-*
	$(BIN)/python -m pip wheel -q --disable-pip-version-check --no-deps -w $(DIST) .
	@$(BIN)/python -c "import glob, sys, zipfile; \
		w = sorted(glob.glob('$(DIST)/pretty_meter-*.whl'))[-1]; \
		ok = 'prettymeter/static/index.html' in zipfile.ZipFile(w).namelist(); \
		print(w if ok else f'error: {w} holds no prettymeter/static/index.html; run make web'); \
		sys.exit(not ok)"

## The full API fuzz run (>= 1,000 schemathesis cases against a live service) and the soak.
fuzz: install
	$(BIN)/python bench/fuzz.py

soak: install
	$(BIN)/python bench/soak.py

clean-demo:
	rm -rf $(DATA)/demo
