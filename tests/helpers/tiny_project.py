"""A throwaway copy of the project that the flow tests run whole pipelines in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TINY = ROOT / "profiles" / "tiny.yaml"  # the whole pipeline in about a minute on 2 cores


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
    """This interpreter's folder first on PATH: a project copy has no .venv, so `stages/python` takes python3
    from PATH (tests/test_stage_interpreter.py covers the .venv it finds in a real checkout)."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def dvc(project: Path, *args: str) -> subprocess.CompletedProcess:
    """A dvc command in the project copy, as a user runs it; the caller checks the exit status."""
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=project, env=venv_env(), capture_output=True, text=True)
