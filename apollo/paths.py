"""The names of the stages' outputs inside their `out` folders (params.yaml), written once.

dvc.yaml reads these constants (``vars: [apollo/paths.py]``; DVC takes a Python file's top-level literal
assignments) and the code joins them with the functions below, so a stage, its DVC declaration and its
readers cannot disagree on a name. Keep this module to literals and path joins: DVC parses it.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from apollo.files import is_url

SUMMARY = "summary.json"  # synth, sad and shards: what the stage made
RECORDINGS = "recordings.json"  # synth: the real recordings per split (train / heldout), never both
HELDOUT = "heldout"  # synth: the folder of the held-out songs (real recordings training never sees)
SAD_INDEX = "index.json"  # sad: the active segments the shards stage reads
GENERATOR = "generator.safetensors"  # train: the best generator
TRAIN_LOGS = "logs"  # train: train.tsv and val.tsv, for the plots
TRAIN_LOG = "train.tsv"
VAL_LOG = "val.tsv"
CHECKPOINTS = "checkpoints"  # train: resume state, best generator, logs (the stage's own, not a DVC output)
METRICS = "metrics.json"  # train and evaluate
REPORT = "report.md"  # evaluate
PER_BITRATE_PLOT = "per_bitrate.png"
EXAMPLES = "examples"
PER_BITRATE_TSV = "per_bitrate.tsv"  # the synthetic test split, drawn by the top-level plots
REAL_PER_BITRATE_TSV = "real_audio_per_bitrate.tsv"  # the real recordings
MIX_PER_BITRATE_TSV = "real_mixtures_per_bitrate.tsv"  # mixtures of held-out real recordings
TEST_SPLIT = "test"  # shards: the split evaluation scores


def join(folder, name: str) -> str:
    """`folder`/`name` as text, for local paths and fsspec URLs alike."""
    return f"{str(folder).rstrip('/')}/{name}" if is_url(folder) else str(PurePosixPath(str(folder)) / name)


def generator(train_out) -> str:
    return join(train_out, GENERATOR)


def sad_index(sad_out) -> str:
    return join(sad_out, SAD_INDEX)


def test_split(shards_out) -> str:
    return join(shards_out, TEST_SPLIT)
