"""DVC stage `sad`: source-activity detection over the sources, written as an index."""

from apollo.config import load_params
from apollo.data.sad import build_index, write_index

if __name__ == "__main__":
    params = load_params()
    index = build_index(params.sources, params.sad.detection, params.sad.workers)
    write_index(index, params.sad.out)
    print("kept seconds per stem:", index["summary"]["kept_seconds"], "| skipped files:", index["summary"]["skipped_files"])
