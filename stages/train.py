"""DVC stage `train`: GAN training on the shards. Multi-GPU: `accelerate launch -m stages.train`."""

from apollo.config import load_params
from apollo.errors import run_command
from apollo.train import fit


def main() -> None:
    params = load_params(require_all=True)  # checked before fit() touches a checkpoint
    summary, _ = fit(params.train, params.model, params.shards.out)
    print(f"trained {summary['steps']} steps in {summary['train_seconds']} s "
          f"({summary['audio_seconds_per_second']} s of audio per s); best validation STFT loss {summary['best_val_stft']:.4f}")


if __name__ == "__main__":
    run_command(main)  # a bad params.yaml: one `error:` line per mistake, exit 1, nothing touched
