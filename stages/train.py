"""DVC stage `train`: GAN training on the shards.

`train.processes` (auto: every visible GPU, one process on CPU) decides how many processes train: more than
one, and this script starts itself again under `accelerate launch`, one process per GPU.
"""

import sys

from accelerate import PartialState

from apollo.checkpoint import weights_digest
from apollo.config import load_params
from apollo.errors import run_command
from apollo.train import fit, launch, needs_launch


def main() -> None:
    params = load_params()  # checked before fit() touches a checkpoint
    if needs_launch(params.train.processes):
        sys.exit(launch(params.train.processes, params.train.mixed_precision, "stages.train"))
    summary, generator = fit(params.train, params.model, params.shards.out)
    rank = PartialState().process_index
    if summary["processes"] > 1:  # every rank: their weights must agree
        # the line and its newline in one write: the ranks share stdout, and print's separate write of the
        # newline let another rank's line land between them (seen once in a fresh-clone `make test`)
        print(f"rank {rank}: generator weights sha256 {weights_digest(generator)}\n", end="", flush=True)
    if rank == 0:
        print(f"trained {summary['steps']} steps in {summary['train_seconds']} s on {summary['processes']} process(es) "
              f"({summary['audio_seconds_per_second']} s of audio per s); "
              f"best validation loss {summary['best_val_loss']:.4f}")


if __name__ == "__main__":
    run_command(main)  # a bad params.yaml: one `error:` line per mistake, exit 1, nothing touched
