# The README's two commands: `make repro` and `make test`. Both set up first (idempotently).
.PHONY: setup repro test test-fast bench
VENV := .venv/bin
# stages run `python ...`: the project's virtual environment comes first
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export PREFECT_SERVER_ANALYTICS_ENABLED := false

setup:
	@bash scripts/setup.sh

repro: setup
	$(VENV)/dvc repro

test: setup
	$(VENV)/python -m pytest -q

test-fast: setup
	$(VENV)/python -m pytest -q -m "not slow"

bench: setup
	$(VENV)/python bench/generator_speed.py
	$(VENV)/python bench/restore_memory.py
	$(VENV)/python bench/shards_throughput.py
	$(VENV)/python bench/loader_throughput.py
