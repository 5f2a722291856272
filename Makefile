# driftline — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GEN := src/driftline/api/_gen
PROTOS := $(wildcard proto/driftline/v1/*.proto)

.PHONY: run test lint typecheck format bench clean install proto

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(GEN)/.stamp: $(PROTOS) $(STAMP)
	$(BIN)/python scripts/gen_proto.py proto $(GEN)

# `driftline` lives in .venv/bin: activate the venv once per shell to have it on PATH.
install: $(STAMP) $(GEN)/.stamp
	@echo "driftline is installed in $(VENV): run '. $(VENV)/bin/activate' to put it on PATH"

proto: $(GEN)/.stamp

run: install
	$(BIN)/driftline serve $(ARGS)

test: install
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy src
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: install
	$(BIN)/mypy src

format: install
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

bench: install
	$(BIN)/python bench/ingest_bench.py $(BENCH_ARGS)
	$(BIN)/python bench/monitor_bench.py
	$(BIN)/python bench/derived_bench.py
	$(BIN)/python bench/sdk_bench.py
	$(BIN)/python bench/processors_bench.py
	$(BIN)/python bench/runs_bench.py
	$(BIN)/python bench/mlflow_bench.py
	$(BIN)/python bench/forward_bench.py
	$(BIN)/python bench/console_bench.py

clean:
	rm -rf $(VENV) $(GEN) .pytest_cache .mypy_cache .ruff_cache
