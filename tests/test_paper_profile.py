"""The paper profile runs: two optimisation steps of the paper-size generator and its seven discriminators,
under bf16 autocast on CPU, through the train stage's own script (`python -m stages.train`).

Before, the first validation under bf16 failed in the TCN's fused in-place residual (the eval-mode path)."""

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml

from apollo.config import apply_overrides, layer, load_params, read_raw
from tests.helpers.tiny_project import ROOT

pytestmark = pytest.mark.slow


def cpu_bf16_autocast() -> bool:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return torch.is_autocast_enabled("cpu")


def test_two_paper_size_steps_under_bf16_autocast(shards, tmp_path):
    precision = "bf16" if cpu_bf16_autocast() else "fp32"
    paper = layer(read_raw(ROOT / "params.yaml"), read_raw(ROOT / "profiles" / "paper.yaml"))
    raw = apply_overrides(paper, [  # the paper's model, discriminators and precision; short crops, 2 steps
        f"shards.out={shards}", f"train.out={tmp_path / 'train'}", "shards.seconds=0.5", "train.crop_seconds=0.25",
        "train.batch_size=1", "train.steps=2", "train.eval_every=2", "train.checkpoint_every=2", "train.val_batches=1",
        "train.workers=0", f"train.mixed_precision={precision}"])  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    params = load_params(tmp_path / "params.yaml")
    assert (params.model.feature_dim, params.model.layers, len(params.train.disc_windows)) == (256, 6, 7)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="2")
    res = subprocess.run([sys.executable, "-m", "stages.train"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads((tmp_path / "train" / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["processes"] == 1
    assert 0 < metrics["best_val_loss"] < float("inf")  # validation ran, in the eval-mode fast path, under autocast
    assert (tmp_path / "train" / "generator.safetensors").stat().st_size > 60e6  # 16.5 M fp32 parameters
    print(f"paper profile, 2 steps, {precision}: {metrics['train_seconds']} s")
