# The README's two commands: `make repro` and `make test`. Both set up first (idempotently).
.PHONY: setup repro test test-fast bench
VENV := .venv/bin

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
