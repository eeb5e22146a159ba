# The README's two commands: `make repro` and `make test`. Both set up first (idempotently).
.PHONY: setup repro plots train-paper paper-params test test-fast bench
VENV := .venv/bin
# the project's virtual environment first on PATH for what make runs (stages find it themselves: stages/python)
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export PREFECT_SERVER_ANALYTICS_ENABLED := false

setup:
	@bash scripts/setup.sh

repro: setup
	$(VENV)/dvc repro

# dvc.yaml's plots as data/plots/index.html, with vega inlined: opens with no network
plots: setup
	$(VENV)/python -m apollo.plots

# The paper's setup (profiles/paper.yaml layered on params.yaml) as a DVC experiment in the workspace (a GPU
# job: see README "Training"); on several GPUs `train.processes: auto` launches one process per GPU.
train-paper: setup
	$(VENV)/python -m apollo.experiments --profile profiles/paper.yaml
paper-params: setup   # write the profile into params.yaml instead, for plain `dvc repro`
	$(VENV)/python -c "from apollo.pipeline import set_params; set_params(profile='profiles/paper.yaml')"

test: setup
	$(VENV)/python -m pytest -q

test-fast: setup
	$(VENV)/python -m pytest -q -m "not slow"

bench: setup
	$(VENV)/python bench/generator_speed.py
	$(VENV)/python bench/restore_memory.py
	$(VENV)/python bench/shards_throughput.py
	$(VENV)/python bench/loader_throughput.py
	$(VENV)/python bench/train_step.py
	$(VENV)/python bench/flow_overhead.py
