"""DVC stage `evaluate`: score the trained generator against the unprocessed MP3 on the test shards and real audio."""

from pathlib import Path

from apollo.config import load_params
from apollo.errors import run_command
from apollo.evaluate import evaluate_checkpoint


def main() -> None:
    params = load_params(require_all=True)
    result = evaluate_checkpoint(params.generator_path, Path(params.shards.out) / "test", params.evaluate)
    print(f"overall (restored / mp3): " + ", ".join(
        f"{m} {result['overall']['restored'][m]:.3f} / {result['overall']['mp3'][m]:.3f}" for m in result["overall"]["restored"]))


if __name__ == "__main__":
    run_command(main)  # a bad params.yaml: one `error:` line per mistake, exit 1, nothing touched
