import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from apollo import train
from apollo.checkpoint import load_generator
from apollo.config import apply_overrides, layer, read_raw
from apollo.train import fit
from tests.helpers.train_run import TINY_MODEL, tiny_params

HELPER = ["-m", "tests.helpers.train_run"]  # run from ROOT
ROOT = Path(__file__).parents[1]


def rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()[1:]]


def test_fit_trains_logs_and_saves(shards, tmp_path):
    out = tmp_path / "train"
    summary, generator = fit(tiny_params(str(out), steps=4, checkpoint_every=2), TINY_MODEL, shards)
    assert summary["steps"] == 4 and summary["audio_seconds_per_second"] > 0
    assert [r[0] for r in rows(out / "logs" / "train.tsv")] == ["1", "2", "3", "4"]
    assert [r[0] for r in rows(out / "logs" / "val.tsv")] == ["2", "4"]
    best = load_generator(out / "generator.safetensors")
    assert best.config == TINY_MODEL
    assert (out / "checkpoints" / "latest").read_text() == "checkpoint-00000004"
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == ["checkpoint-00000004"]
    assert json.loads((out / "metrics.json").read_text())["steps"] == 4


def test_resume_continues_from_the_checkpoint(shards, tmp_path):
    out = tmp_path / "train"
    fit(tiny_params(str(out), steps=2, checkpoint_every=2), TINY_MODEL, shards)
    state = json.loads((out / "checkpoints" / "checkpoint-00000002" / "state.json").read_text())
    assert state["step"] == 2
    summary, _ = fit(tiny_params(str(out), steps=3, checkpoint_every=2), TINY_MODEL, shards)
    assert summary["steps"] == 3
    assert [r[0] for r in rows(out / "logs" / "train.tsv")] == ["1", "2", "3"]  # no step trained twice


def test_changed_settings_train_afresh_instead_of_resuming(shards, tmp_path, capsys):
    out = tmp_path / "train"
    fit(tiny_params(str(out), steps=2, checkpoint_every=2), TINY_MODEL, shards)
    summary, _ = fit(dataclasses.replace(tiny_params(str(out), steps=2, checkpoint_every=2), lr_g=5e-4), TINY_MODEL, shards)
    assert "starting from step 0" in capsys.readouterr().out
    assert summary["steps"] == 2
    assert [r[0] for r in rows(out / "logs" / "train.tsv")] == ["1", "2"]


def test_a_checkpoint_of_other_code_trains_afresh(shards, tmp_path, capsys, monkeypatch):
    out = tmp_path / "train"
    params = tiny_params(str(out), steps=2, checkpoint_every=2)
    fit(params, TINY_MODEL, shards)
    assert "starting from step 0" not in capsys.readouterr().out
    monkeypatch.setattr(train, "code_version", lambda: "edited")  # the package's sources changed since
    summary, _ = fit(dataclasses.replace(params, steps=3), TINY_MODEL, shards)
    assert "starting from step 0" in capsys.readouterr().out
    assert summary["steps"] == 3
    assert [r[0] for r in rows(out / "logs" / "train.tsv")] == ["1", "2", "3"]


def test_the_code_version_follows_the_package_sources(tmp_path, monkeypatch):
    package = tmp_path / "apollo"
    (package / "models").mkdir(parents=True)
    (package / "models" / "net.py").write_text("WIDTH = 1\n")
    (package / "train.py").write_text("")
    monkeypatch.setattr(train, "__file__", str(package / "train.py"))
    first = train.code_version()
    assert train.code_version() == first
    (package / "models" / "net.py").write_text("WIDTH = 2\n")
    assert train.code_version() != first


def test_every_ending_publishes_the_best_generator(shards, tmp_path):
    out = tmp_path / "train"
    fit(tiny_params(str(out), steps=4, checkpoint_every=2), TINY_MODEL, shards)
    best = (out / "checkpoints" / "best.safetensors").read_bytes()
    for steps in (4, 2):  # budget already reached (a forced rerun), then lowered: nothing trains, the model stays
        (out / "generator.safetensors").unlink()
        summary, _ = fit(tiny_params(str(out), steps=steps, checkpoint_every=2), TINY_MODEL, shards)
        assert summary["steps"] == 4 and (out / "generator.safetensors").read_bytes() == best
        assert [r[0] for r in rows(out / "logs" / "train.tsv")] == ["1", "2", "3", "4"]


def test_a_budget_below_the_first_evaluation_still_writes_a_generator(shards, tmp_path):
    out = tmp_path / "train"
    params = dataclasses.replace(tiny_params(str(out), steps=1), eval_every=10)
    summary, _ = fit(params, TINY_MODEL, shards)
    assert summary["steps"] == 1 and summary["best_val_loss"] < float("inf")
    assert load_generator(out / "generator.safetensors").config == TINY_MODEL


def test_an_early_stopped_run_finishes_at_once_when_rerun(shards, tmp_path):
    out = tmp_path / "train"
    # a frozen generator (lr 0) never improves: the second evaluation stops the run
    params = dataclasses.replace(tiny_params(str(out), steps=20, checkpoint_every=20), eval_every=1, patience=1, lr_g=0.0)
    first, _ = fit(params, TINY_MODEL, shards)
    assert first["steps"] == 2
    again, _ = fit(dataclasses.replace(params, steps=30), TINY_MODEL, shards)
    assert again["steps"] == first["steps"] and (out / "generator.safetensors").exists()


def checkpointed_step(out: Path) -> int:
    pointer = out / "checkpoints" / "latest"
    return int(pointer.read_text().split("-")[1]) if pointer.exists() else 0


@pytest.mark.slow
def test_sigkill_then_restart_resumes(shards, tmp_path):
    out = tmp_path / "train"
    cmd = [sys.executable, *HELPER, shards, str(out), "1000", "1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and checkpointed_step(out) < 3:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = checkpointed_step(out)
    assert killed_at >= 3
    again = subprocess.run([sys.executable, *HELPER, shards, str(out), str(killed_at + 2), "1"],
                           cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert f"resuming from {out}/checkpoints/checkpoint-{killed_at:08d} at step {killed_at}" in again.stdout + again.stderr
    assert json.loads((out / "metrics.json").read_text())["steps"] == killed_at + 2
    steps = [int(r[0]) for r in rows(out / "logs" / "train.tsv")]
    assert steps == list(range(1, killed_at + 3))
    assert not list((out / "checkpoints").glob(".checkpoint-*.tmp"))


@pytest.mark.slow
def test_train_processes_2_launches_two_cpu_ranks_that_agree(shards, tmp_path):
    """`train.processes: 2` on CPU: the stage script starts itself under `accelerate launch` (the path a
    multi-GPU machine takes with `auto`), two gloo ranks train, and their final weights are identical."""
    raw = apply_overrides(layer(read_raw(ROOT / "params.yaml"), read_raw(ROOT / "profiles" / "tiny.yaml")), [
        f"shards.out={shards}", f"train.out={tmp_path / 'train'}", "shards.seconds=0.5", "train.crop_seconds=0.25",
        "train.disc_windows=[64, 256]", "train.disc_channels=2", "train.steps=3", "train.processes=2"])  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-m", "stages.train"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "launching 2 training processes (CPU)" in res.stdout
    digests = re.findall(r"^rank (\d): generator weights sha256 (\w+)$", res.stdout, re.M)
    assert sorted(rank for rank, _ in digests) == ["0", "1"], res.stdout  # two ranks really ran
    assert len({digest for _, digest in digests}) == 1
    metrics = json.loads((tmp_path / "train" / "metrics.json").read_text())
    assert (metrics["steps"], metrics["processes"]) == (3, 2)


def test_the_generator_step_judges_the_real_half_without_autograd_and_as_one_stacked_forward_would():
    import torch

    from apollo.models.discriminator import MultiResolutionDiscriminator
    from apollo.train import judge, judge_for_generator

    torch.manual_seed(0)
    stacked, split = (MultiResolutionDiscriminator(windows=(128, 512), channels=4) for _ in range(2))
    split.load_state_dict(stacked.state_dict())
    real, fake = torch.randn(2, 2, 4096), torch.randn(2, 2, 4096, requires_grad=True)
    for _ in range(2):  # the second call sees the power iteration's state the first one left
        want, got = judge(stacked, real, fake), judge_for_generator(split, real, fake)
        for half_want, half_got in zip(want, got):
            for (logits_w, maps_w), (logits_g, maps_g) in zip(half_want, half_got):
                torch.testing.assert_close(logits_g, logits_w)
                for w, g in zip(maps_w, maps_g):
                    torch.testing.assert_close(g, w)
    for name, value in stacked.state_dict().items():  # spectral norm's vectors moved alike
        torch.testing.assert_close(split.state_dict()[name], value)
    assert split.training
    real_out, fake_out = got
    assert not real_out[0][0].requires_grad and fake_out[0][0].requires_grad
