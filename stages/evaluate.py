"""DVC stage `evaluate`: score the trained generator against the unprocessed MP3 on the test shards and real audio."""

from apollo import paths
from apollo.config import load_params
from apollo.errors import run_command
from apollo.evaluate import Mixing, evaluate_checkpoint
from apollo.report import overall_lines


def main() -> None:
    params = load_params()
    mixing = Mixing(params.shards, params.sad.detection)  # the real mixtures are mixed as the shards are
    result = evaluate_checkpoint(params.generator_path, paths.test_split(params.shards.out), params.evaluate,
                                 mixing=mixing)  # fmt: skip
    print("\n".join(overall_lines(result)))


if __name__ == "__main__":
    run_command(main)  # a bad params.yaml: one `error:` line per mistake, exit 1, nothing touched
