"""DVC stage `sad`: source-activity detection over the sources, written as an index."""

from apollo.config import load_params
from apollo.data.sad import build_index, write_index
from apollo.errors import run_command


def main() -> None:
    params = load_params()
    index = build_index(params.sources, params.sad.detection, params.sad.workers)
    write_index(index, params.sad.out)
    print("kept seconds per stem:", index["summary"]["kept_seconds"], "| skipped files:", index["summary"]["skipped_files"])


if __name__ == "__main__":
    run_command(main)  # a bad params.yaml: one `error:` line per mistake, exit 1, nothing touched
