"""The train stage over time, as users rerun it: through `dvc repro`, never losing the generator."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apollo.pipeline import set_params
from tests.helpers.tiny_project import TINY, dvc, make_project, venv_env


def logged_steps(project: Path) -> list[int]:
    lines = (project / "data/train/logs/train.tsv").read_text().splitlines()[1:]
    return [int(line.split("\t")[0]) for line in lines]


def checkpointed_step(project: Path) -> int:
    pointer = project / "data/train/checkpoints/latest"
    return int(pointer.read_text().split("-")[1]) if pointer.exists() else 0


def repro_ok(project: Path, *args: str) -> str:
    res = dvc(project, "repro", *args)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert (project / "data/train/generator.safetensors").is_file()  # every ending leaves a model
    return res.stdout + res.stderr


@pytest.mark.slow
def test_reruns_never_lose_the_generator(tmp_path):
    project = make_project(tmp_path / "project")
    set_params(project, profile=TINY)
    repro_ok(project, "train")
    assert logged_steps(project) == [1, 2, 3, 4]
    generator = (project / "data/train/generator.safetensors").read_bytes()

    # forced rerun of a finished run: nothing left to train, the same model and logs come back
    repro_ok(project, "-f", "-s", "train")
    assert (project / "data/train/generator.safetensors").read_bytes() == generator
    assert logged_steps(project) == [1, 2, 3, 4]

    # budget lowered below the checkpoint: finishes at once with the model it has
    set_params(project, overrides=["train.steps=2"])
    repro_ok(project, "train")
    assert json.loads((project / "data/train/metrics.json").read_text())["steps"] == 4
    assert (project / "data/train/generator.safetensors").read_bytes() == generator

    # budget raised: continues from the checkpoint
    set_params(project, overrides=["train.steps=6"])
    assert "resuming from" in repro_ok(project, "train")
    assert logged_steps(project) == [1, 2, 3, 4, 5, 6]

    # SIGKILL in the middle of a long budget, then a rerun: resumes, and ends with a model
    set_params(project, overrides=["train.steps=100000", "train.checkpoint_every=1"])
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "train"], cwd=project, start_new_session=True,
                            env=venv_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 180
    while time.time() < deadline and checkpointed_step(project) < 9:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # dvc and the stage's python with it
    proc.wait()
    killed_at = checkpointed_step(project)
    assert killed_at >= 9
    set_params(project, overrides=[f"train.steps={killed_at + 2}"])
    assert f"at step {killed_at}" in repro_ok(project, "train")
    assert logged_steps(project) == list(range(1, killed_at + 3))  # rows past the checkpoint were dropped, none lost

    # a changed seed trains afresh (the checkpoints are of other settings)
    set_params(project, overrides=["train.seed=1", "train.steps=3"])
    assert "starting from step 0" in repro_ok(project, "train")
    assert logged_steps(project) == [1, 2, 3]

    # changed code trains afresh too, as a fresh clone would, instead of resuming the old code's weights
    with open(project / "apollo" / "losses.py", "a") as f:
        f.write("\n# edited\n")
    assert "starting from step 0" in repro_ok(project, "train")
    assert logged_steps(project) == [1, 2, 3]
    status = dvc(project, "status", "train")
    assert "up to date" in status.stdout, status.stdout
