# hftui: `make demo` opens the TUI on the local exchange, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall when the dependency list changes; the stamp records the last install.
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench snapshots-update soak fuzz clean help

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

# Unit, fuzz and UI tests share nothing on the machine: two workers. The end-to-end tests run
# engines and exchanges as processes in private dirs and mostly wait on them: two workers too,
# except those that assert wall-clock bounds (marked timing), which run one at a time after.
test: $(DEV_STAMP)  ## run the whole test suite (soak tests excluded)
	$(BIN)/python -m pytest -q -n 2 --ignore=tests/e2e
	$(BIN)/python -m pytest -q -n 2 -m 'not slow and not timing' tests/e2e
	$(BIN)/python -m pytest -q -m 'timing and not slow' tests/e2e

lint: $(DEV_STAMP)  ## ruff format check, ruff, mypy and the import contracts
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The suite prints one table and appends its run to the saved results; each script in
# benchmarks/ still runs on its own (`.venv/bin/python benchmarks/bench_NAME.py`) with more detail.
bench: $(STAMP)  ## run the benchmark suite (hftui bench), each figure beside its baseline
	$(BIN)/hftui bench

snapshots-update: $(DEV_STAMP)  ## rewrite the TUI's SVG snapshots (read the diff report first)
	$(BIN)/python -m pytest -q tests/ui/test_snapshots.py --snapshot-update

SOAK_SECONDS ?= 3600
# The slow tests, then the soak (tests/soak/soak.py): the engine trading under random faults
# and kill -9s for SOAK_SECONDS; `make soak SOAK_SECONDS=120` is a quick check.
soak: $(DEV_STAMP)  ## long-running soak tests, not part of `make test`
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m pytest -q -m slow --ignore=tests/soak
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m pytest -q -m slow tests/soak

FUZZ_SECONDS ?= 60
# atheris ships wheels for Linux only (elsewhere it needs clang with libFuzzer), so it is
# installed here on demand rather than being a dev dependency.
fuzz: $(DEV_STAMP)  ## the fuzz tests, then the frame parser under atheris for FUZZ_SECONDS
	HFTUI_FUZZ_SCALE=1 $(BIN)/python -m pytest -q tests/fuzz
	@$(BIN)/python -m pip install -q 'atheris>=2.3,<4' || \
	  { echo "atheris does not install here (no wheel, no clang): coverage-guided run skipped"; exit 0; }; \
	$(BIN)/python tests/fuzz/atheris_frames.py -max_total_time=$(FUZZ_SECONDS)

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
