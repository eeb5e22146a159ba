"""DVC stage `shards`: mix, degrade and write WebDataset shards."""

from apollo.config import load_params
from apollo.data.shards import write_all
from apollo.errors import run_command


def main() -> None:
    summary = write_all(load_params().shard_params())
    for split, s in summary["splits"].items():
        print(f"{split}: {s['samples']} samples in {s['shards']} shards ({s['skipped_silent']} silent skipped)")


if __name__ == "__main__":
    run_command(main)  # a bad params.yaml: one `error:` line per mistake, exit 1, nothing touched
