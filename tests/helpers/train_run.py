"""A tiny training run from the command line, for the kill/resume test.

Usage: python -m tests.helpers.train_run SHARDS OUT STEPS [CHECKPOINT_EVERY]
"""

import sys

from apollo.params import TrainParams
from apollo.train import fit
from tests.helpers.params import model_config, section

TINY_MODEL = model_config("paper", feature_dim=16, layers=1)


def tiny_params(out: str, steps: int, checkpoint_every: int = 100) -> TrainParams:
    return section("train", out=out, steps=steps, batch_size=2, crop_seconds=0.25, disc_windows=(64, 256),
                   disc_channels=2, eval_every=2, checkpoint_every=checkpoint_every, val_batches=1, workers=0,
                   mixed_precision="fp32", processes=1)  # fmt: skip


if __name__ == "__main__":
    shards, out, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    every = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    fit(tiny_params(out, steps, every), TINY_MODEL, shards)
