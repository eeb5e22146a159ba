"""The pipeline flow over time: each retrain a DVC experiment, the workspace changed only by promotion."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from apollo.experiments import read_file
from apollo.pipeline import set_params
from tests.helpers.tiny_project import TINY, commit, make_project

WATCHED = ("params.yaml", "dvc.lock", "data/train/generator.safetensors", "data/eval/metrics.json")


def snapshot(project: Path) -> dict:
    return {name: (project / name).read_bytes() if (project / name).exists() else None for name in WATCHED}


def experiment(project: Path, name: str) -> dict:
    """What an experiment holds: its params and its training and evaluation metrics."""
    read = lambda path: read_file(project, path, rev=name)  # noqa: E731
    return {"params": yaml.safe_load(read("params.yaml")), "train": json.loads(read("data/train/metrics.json")),
            "evaluate": json.loads(read("data/eval/metrics.json"))}  # fmt: skip


def exp_show(project: Path) -> dict:
    import dvc.api

    return {row["Experiment"]: row for row in dvc.api.exp_show(repo=str(project)) if row.get("Experiment")}


@pytest.mark.slow
def test_retrains_are_experiments_and_only_promotion_changes_the_workspace(tmp_path):
    import httpx
    from prefect.settings import PREFECT_API_URL

    from flows.pipeline import pipeline

    project = make_project(tmp_path / "project")
    set_params(project, profile=TINY)
    commit(project, "tiny params")

    # a plain retrain of a workspace with no results yet: no worse than nothing, so promoted
    first = pipeline(project=str(project))
    assert first["promoted"] and first["experiment"].startswith("retrain-")
    assert list(first["summaries"]) == ["synth", "sad", "shards", "model_card", "train", "evaluate"]
    assert first["summaries"]["train"]["steps"] == 4
    status = subprocess.run([sys.executable, "-m", "dvc", "status"], cwd=project, capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout  # the applied experiment's lock matches its outputs
    assert experiment(project, first["experiment"])["evaluate"] == json.loads((project / "data/eval/metrics.json").read_text())
    found = httpx.post(f"{PREFECT_API_URL.value()}/artifacts/filter",
                       json={"artifacts": {"key": {"any_": ["evaluation-metrics", "evaluation-report"]}}, "offset": 0}).json()
    assert sorted(a["type"] for a in found) == ["markdown", "table"]
    assert any("data:image/png;base64," in a["data"] for a in found if a["type"] == "markdown")  # images embedded

    # a run with overrides: an experiment of its own, listed with its params and metrics; the workspace untouched
    before = snapshot(project)
    second = pipeline(project=str(project), overrides=["train.lr_g=0.005", "train.steps=5"])
    assert not second["promoted"] and snapshot(project) == before
    held = experiment(project, second["experiment"])
    assert held["params"]["train"]["lr_g"] == 0.005 and held["train"]["steps"] == 5
    listed = exp_show(project)[second["experiment"]]
    assert listed["train.lr_g"] == 0.005 and listed["train.steps"] == 5 and "sets.synthetic.overall.restored.si_snr" in listed

    # two runs at once (two processes, one server): each experiment holds its own settings and results
    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value())
    runs = {steps: subprocess.Popen([sys.executable, "flows/pipeline.py", "--overrides", f"train.steps={steps}"],
                                    cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for steps in (3, 6)}  # fmt: skip
    for steps, proc in runs.items():
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-3000:]
        name = re.search(r"experiment (retrain-\S+): not promoted", out).group(1)
        held = experiment(project, name)
        assert held["params"]["train"]["steps"] == steps and held["train"]["steps"] == steps
    assert snapshot(project) == before

    # asking for promotion applies that experiment: its params, lock and outputs become the workspace's
    third = pipeline(project=str(project), overrides=["train.steps=5"], promote=True)
    assert third["promoted"] and load_steps(project) == 5
    assert json.loads((project / "data/train/metrics.json").read_text()) == experiment(project, third["experiment"])["train"]


def load_steps(project: Path) -> int:
    return yaml.safe_load((project / "params.yaml").read_text())["train"]["steps"]
