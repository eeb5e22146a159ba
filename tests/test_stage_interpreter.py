"""`.venv/bin/dvc repro` with no virtual environment activated runs the stages with the project's interpreter,
in the workspace and in a DVC experiment's temporary copy (the README's GPU commands call dvc so)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apollo.pipeline import set_params
from tests.helpers.tiny_project import TINY, commit, make_project

pytestmark = pytest.mark.slow
VENV_DVC = Path(sys.executable).parent / "dvc"


@pytest.fixture
def bare_env(tmp_path) -> dict:
    """PATH without the virtual environment, and `python`/`python3` that fail loudly if a stage calls them."""
    decoys = tmp_path / "decoys"
    decoys.mkdir()
    for name in ("python", "python3"):
        (decoys / name).write_text("#!/bin/sh\necho 'stage ran the PATH python' >&2\nexit 97\n")
        (decoys / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "APOLLO_PYTHON", "PYTHONPATH")}
    return dict(env, PATH=f"{decoys}:/usr/bin:/bin")


@pytest.fixture
def checkout(tmp_path) -> Path:
    project = make_project(tmp_path / "project")
    set_params(project, profile=TINY)
    commit(project, "tiny params")
    (project / ".venv").symlink_to(Path(sys.executable).parents[1])  # what `make setup` makes (gitignored)
    return project


def test_dvc_from_the_venv_without_activation_uses_the_project_interpreter(checkout, bare_env):
    res = subprocess.run([str(VENV_DVC), "repro", "model_card"], cwd=checkout, env=bare_env, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (checkout / "data" / "model" / "card.json").is_file()
    exp = subprocess.run([str(VENV_DVC), "exp", "run", "--temp", "-S", "model.layers=2", "model_card"], cwd=checkout,
                         env=bare_env, capture_output=True, text=True)  # fmt: skip  (a copy under .dvc/tmp/exps)
    assert exp.returncode == 0, exp.stdout + exp.stderr


def test_without_a_venv_a_stage_falls_back_to_python3_on_path(checkout, bare_env):
    (checkout / ".venv").unlink()
    res = subprocess.run([str(VENV_DVC), "repro", "model_card"], cwd=checkout, env=bare_env, capture_output=True, text=True)
    assert res.returncode != 0 and "stage ran the PATH python" in res.stdout + res.stderr  # the decoy: the test sees it
    ok = subprocess.run([str(VENV_DVC), "repro", "model_card"], cwd=checkout, capture_output=True, text=True,
                        env=dict(bare_env, APOLLO_PYTHON=sys.executable))  # fmt: skip  (an environment of your own)
    assert ok.returncode == 0, ok.stdout + ok.stderr
