"""DVC stage `shards`: mix, degrade and write WebDataset shards."""

from apollo.config import load_params
from apollo.data.shards import write_all

if __name__ == "__main__":
    summary = write_all(load_params().shard_params())
    for split, s in summary["splits"].items():
        print(f"{split}: {s['samples']} samples in {s['shards']} shards ({s['skipped_silent']} silent skipped)")
