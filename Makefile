# interviewday — `make run` to try it, `make test` to test it. Everything missing is set up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATAPATH := $(VENV)/.datapath
BUNDLE := web/static/dist/app.js
CLIENT_SOURCES := $(wildcard web/client/*.js web/client/*/*.js) package.json package-lock.json

.PHONY: setup run test check bench clean client

setup: $(STAMP) $(DATAPATH) $(BUNDLE)

$(STAMP): pyproject.toml setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 'setuptools>=77'
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The forwarding tail in C, built next to its sources (again whenever they change).
$(DATAPATH): $(STAMP) $(wildcard media/fastpath/*.c media/fastpath/*.h) setup.py
	$(BIN)/python -W ignore setup.py --quiet build_ext --inplace
	@touch $(DATAPATH)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

$(BUNDLE): node_modules/.package-lock.json $(CLIENT_SOURCES)
	npm run --silent build

client: $(BUNDLE)

run: setup
	$(BIN)/interviewday migrate
	$(BIN)/interviewday demo
	@echo "Serving on http://127.0.0.1:$${INTERVIEWDAY_PORT:-8080} (Ctrl-C stops)"
	@echo "To see today's demo day move: in another terminal, $(BIN)/interviewday demo --live"
	$(BIN)/interviewday serve

test: setup
	$(BIN)/pytest -rs $(PYTEST_ARGS)

check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: setup
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build media/fastpath/*.so node_modules web/static/dist .pytest_cache .mypy_cache .ruff_cache test-results
