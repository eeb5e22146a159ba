# The README's two commands: `make repro` and `make test`. Both set up first (idempotently).
.PHONY: setup repro plots train-paper paper-overrides paper-params test test-fast bench
VENV := .venv/bin
# stages run `python ...`: the project's virtual environment comes first
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export PREFECT_SERVER_ANALYTICS_ENABLED := false

setup:
	@bash scripts/setup.sh

repro: setup
	$(VENV)/dvc repro

# dvc.yaml's plots as data/plots/index.html, with vega inlined: opens with no network
plots: setup
	$(VENV)/python -m apollo.plots

# The paper's generator, discriminators and crops, as a DVC experiment (a GPU job: see README "Training").
PAPER := -S model.feature_dim=256 -S model.layers=6 -S model.heads=8 -S model.residual=false \
	-S train.crop_seconds=3.0 -S 'train.disc_windows=[32,64,128,256,512,1024,2048]' -S train.disc_channels=8 \
	-S train.batch_size=8 -S train.steps=500000 -S train.eval_every=1000 -S train.checkpoint_every=1000 \
	-S train.steps_per_epoch=1000 -S train.mixed_precision=bf16 -S train.workers=8 -S shards.samples.train=200000
train-paper: setup
	$(VENV)/dvc exp run $(PAPER)
paper-overrides:
	@echo $(PAPER)
paper-params: setup   # write the same settings into params.yaml (for `accelerate launch` on several GPUs)
	$(VENV)/python -c "import sys; from apollo.pipeline import set_params; set_params(overrides=sys.argv[1:])" $(subst -S ,,$(PAPER))

test: setup
	$(VENV)/python -m pytest -q

test-fast: setup
	$(VENV)/python -m pytest -q -m "not slow"

bench: setup
	$(VENV)/python bench/generator_speed.py
	$(VENV)/python bench/restore_memory.py
	$(VENV)/python bench/shards_throughput.py
	$(VENV)/python bench/loader_throughput.py
