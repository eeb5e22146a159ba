"""A throwaway copy of the project that the flow tests run whole pipelines in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# the whole pipeline in about a minute on 2 cores: tiny corpus, model and budget, ViSQOL off
TINY_OVERRIDES = [
    "synth.songs=3", "synth.seconds=8.0",
    "shards.samples={train: 8, val: 2, test: 4}", "shards.samples_per_shard=4", "shards.seconds=1.0",
    "model.feature_dim=16", "model.layers=1",
    "train.steps=4", "train.batch_size=2", "train.eval_every=2", "train.checkpoint_every=2", "train.val_batches=1",
    "train.workers=0", "evaluate.visqol=false", "evaluate.real_clips=1", "evaluate.real_bitrates=[32]",
    "evaluate.real_seconds=1.0", "evaluate.examples=1",
]  # fmt: skip


def make_project(dest: Path) -> Path:
    """Copy the project's files (tracked and untracked, not ignored) to `dest` as a fresh git repo."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file() and not name.startswith("data/"):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    (dest / "data").mkdir(exist_ok=True)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    commit(dest, "project copy")  # DVC wants a repository, and its experiments a commit to start from
    return dest


def commit(project: Path, message: str) -> None:
    """Commit the project copy's changes (e.g. params for the tests' tiny runs)."""
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(["git", "-c", "user.name=apollo-tests", "-c", "user.email=tests@apollo.invalid",
                    "commit", "-q", "-m", message], cwd=project, check=True)  # fmt: skip


def venv_env() -> dict:
    """The environment DVC runs stages in: they call `python`, so this interpreter's folder comes first on PATH."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def dvc(project: Path, *args: str) -> subprocess.CompletedProcess:
    """A dvc command in the project copy, as a user runs it; the caller checks the exit status."""
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=project, env=venv_env(), capture_output=True, text=True)
