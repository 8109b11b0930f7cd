# hftui: `make demo` opens the TUI on the local exchange, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall when the dependency list changes; the stamp records the last install.
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench snapshots-update soak clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "hftui needs Python 3.11 or newer"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# After installing, compile the numba kernels once so the first start finds them cached.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	$(BIN)/python -m hftui.engine.warmup
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m hftui.engine.warmup
	touch $@ $(STAMP)

demo: $(STAMP)  ## start the engine and the local exchange and open the TUI (mode observe)
	$(BIN)/hftui

test: $(DEV_STAMP)  ## run the whole test suite (soak tests excluded)
	$(BIN)/python -m pytest -q

lint: $(DEV_STAMP)  ## ruff format check, ruff, mypy and the import contracts
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)  ## run the benchmarks
	$(BIN)/python benchmarks/bench_book.py
	$(BIN)/python benchmarks/bench_exchange.py
	$(BIN)/python benchmarks/bench_orders.py
	$(BIN)/python benchmarks/bench_risk.py
	$(BIN)/python benchmarks/bench_kill.py
	$(BIN)/python benchmarks/bench_ring.py
	$(BIN)/python benchmarks/bench_strategy.py

snapshots-update: $(DEV_STAMP)  ## rewrite the TUI's SVG snapshots (read the diff report first)
	$(BIN)/python -m pytest -q tests/ui/test_snapshots.py --snapshot-update

soak: $(DEV_STAMP)  ## long-running soak tests, not part of `make test`
	$(BIN)/python -m pytest -q -m slow

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
