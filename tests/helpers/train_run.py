"""A tiny training run from the command line, for the multi-process and kill/resume tests.

Usage: python tests/helpers/train_run.py SHARDS OUT STEPS [CHECKPOINT_EVERY]
Each rank writes OUT/rank<k>.sha256, a digest of its generator's weights at the end.
"""

import hashlib
import sys
from pathlib import Path

from apollo.models.apollo import ApolloConfig
from apollo.train import TrainParams, fit

TINY_MODEL = ApolloConfig(feature_dim=16, layers=1)


def tiny_params(out: str, steps: int, checkpoint_every: int = 100) -> TrainParams:
    return TrainParams(out=out, steps=steps, batch_size=2, crop_seconds=0.25, disc_windows=(64, 256), disc_channels=2,
                       eval_every=2, checkpoint_every=checkpoint_every, val_batches=1, workers=0)  # fmt: skip


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


if __name__ == "__main__":
    from accelerate import PartialState

    shards, out, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    every = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    _, generator = fit(tiny_params(out, steps, every), TINY_MODEL, shards)
    Path(out, f"rank{PartialState().process_index}.sha256").write_text(weights_digest(generator))
