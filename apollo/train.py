"""GAN training of the Apollo generator on HuggingFace Accelerate.

One loop for 1 CPU, 1 GPU, several GPUs or nodes (``accelerate launch``): per
batch a discriminator step (LSGAN, eq. 3) then a generator step (LSGAN +
feature matching + multi-resolution STFT, eqs. 4-7); AdamW for both (paper:
lr 1e-3 / 1e-4, weight decay 0.01; discriminator betas (0.5, 0.99) as the
published config), StepLR x0.98 every 2 epochs, gradient clipping at norm 5,
early stopping after `patience` evaluations without a better validation loss.

Checkpoints (every `checkpoint_every` steps) hold both networks (safetensors),
both optimisers and schedulers and the RNG state (a torch file of tensors and
numbers, read back with ``weights_only=True``), and the step and early-stopping
state (JSON). Each is written to a temporary folder, renamed, and then named
in ``latest``; a killed run restarts from there.

Everything a rerun needs lives in ``checkpoints/`` (kept across DVC reruns):
the best generator so far (``best.safetensors`` and ``best.json``) and the TSV
logs. Every ending of `fit` (budget reached, budget already passed, early stop,
a resume that never improves) publishes them as ``generator.safetensors`` and
``logs/``, so no rerun can end without a model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from apollo import paths
from apollo.checkpoint import save_generator
from apollo.files import atomic, write_json, write_text
from apollo.data.loader import make_loader
from apollo.losses import discriminator_loss, generator_loss, spectral_objective
from apollo.models.apollo import Apollo
from apollo.models.discriminator import MultiResolutionDiscriminator
from apollo.params import ApolloConfig, TrainParams
from apollo.progress import Ticker


PRECISION = {"fp32": "no", "fp16": "fp16", "bf16": "bf16"}  # params value -> accelerate's name
LAUNCHED = "APOLLO_TRAIN_LAUNCHED"  # set in the processes `launch` starts, so they do not launch again


def process_count(processes: str | int) -> int:
    """`train.processes`: "auto" is every visible GPU, or one process on CPU."""
    if processes == "auto":
        return max(torch.cuda.device_count(), 1)
    return int(processes)


def needs_launch(processes: str | int) -> bool:
    """True in a plain `python -m stages.train` that should run as several processes; False inside a launched
    (or `accelerate launch`ed) one."""
    # every `accelerate launch` (one process too, which sets no WORLD_SIZE) sets ACCELERATE_DYNAMO_BACKEND
    launched = LAUNCHED in os.environ or "ACCELERATE_DYNAMO_BACKEND" in os.environ or "WORLD_SIZE" in os.environ
    return not launched and process_count(processes) > 1


def launch(processes: str | int, mixed_precision: str, module: str) -> int:
    """Run `python -m module` as `accelerate launch` over the processes: one per GPU when there are GPUs,
    else CPU processes (gloo). Returns the launcher's exit status."""
    import socket
    import subprocess
    import sys

    count = process_count(processes)
    env = dict(os.environ, **{LAUNCHED: "1"})
    if not torch.cuda.is_available():
        env["ACCELERATE_USE_CPU"] = "true"  # `--cpu --num_processes N` would silently run one process
    with socket.socket() as s:  # a free rendezvous port: two trainings on one machine must not meet
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(count),
               "--num_machines", "1", "--main_process_port", str(port), "--dynamo_backend", "no",
               "--mixed_precision", PRECISION[mixed_precision], "-m", module]  # fmt: skip
    print(f"launching {count} training processes ({'GPU' if torch.cuda.is_available() else 'CPU'}): "
          f"accelerate launch --num_processes {count} -m {module}", flush=True)  # fmt: skip
    return subprocess.call(command, env=env)


@dataclass
class TrainState:
    """What training owns besides the weights and optimisers."""

    step: int = 0
    best_val: float = float("inf")
    bad_evals: int = 0
    seconds: float = 0.0  # training wall time so far
    fingerprint: str = ""  # the settings the checkpoint was made with (see `fingerprint`)


# settings that do not change what is learned: a checkpoint made under other values still resumes
RESUMABLE_ACROSS = ("out", "steps", "workers", "checkpoint_every", "patience")


def code_version() -> str:
    """Hash of the `apollo` package's sources. DVC reruns training when its code changes, and a fresh clone then
    trains from step 0: resuming a checkpoint of the old code would publish weights the new code never trained."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for source in sorted(root.rglob("*.py")):
        digest.update(source.relative_to(root).as_posix().encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint(params: TrainParams, model_config: ApolloConfig, shards: str, processes: int) -> str:
    """Hash of what a checkpoint depends on: training settings, architecture, the shards' summary, the code and
    the number of processes that really train (the global batch; `train.processes: auto` differs per machine)."""
    settings = {k: v for k, v in asdict(params).items() if k not in RESUMABLE_ACROSS}
    settings["processes"] = processes
    summary = Path(shards) / paths.SUMMARY
    data = {"train": settings, "model": model_config.to_dict(), "code": code_version(),
            "shards": summary.read_text() if summary.exists() else str(shards)}  # fmt: skip
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def fit(params: TrainParams, model_config: ApolloConfig, shards: str) -> tuple[dict, Apollo]:
    """Train (or resume) to the step budget or early stop; returns the summary and this rank's generator."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    accelerator = Accelerator(mixed_precision=PRECISION[params.mixed_precision], gradient_accumulation_steps=params.grad_accum)
    set_seed(params.seed)
    out = Path(params.out)
    generator, discriminator = Apollo(model_config), MultiResolutionDiscriminator(
        windows=tuple(params.disc_windows), channels=params.disc_channels
    )
    opt_g = torch.optim.AdamW(generator.parameters(), params.lr_g, betas=params.betas_g, weight_decay=params.weight_decay)
    opt_d = torch.optim.AdamW(discriminator.parameters(), params.lr_d, betas=params.betas_d, weight_decay=params.weight_decay)
    every = params.lr_step_epochs * params.steps_per_epoch
    sched_g = torch.optim.lr_scheduler.StepLR(opt_g, every, params.lr_gamma)
    sched_d = torch.optim.lr_scheduler.StepLR(opt_d, every, params.lr_gamma)
    ckpt = out / paths.CHECKPOINTS
    state = TrainState(fingerprint=fingerprint(params, model_config, shards, accelerator.num_processes))
    latest = load_checkpoint(ckpt, generator, discriminator, (opt_g, opt_d, sched_g, sched_d), state)
    state.best_val = best_saved(ckpt, state.fingerprint)  # the file is the truth: it may be newer than the checkpoint
    generator, discriminator, opt_g, opt_d = accelerator.prepare(generator, discriminator, opt_g, opt_d)
    if accelerator.is_main_process:
        logs = Logs(ckpt / paths.TRAIN_LOGS, resume_step=state.step)
        if latest:
            accelerator.print(f"resuming from {latest} at step {state.step}")
    stop = state.bad_evals >= params.patience  # stopped early before: a rerun finishes at once
    # a resumed run draws new batches, deterministically: the data seed includes the step
    batches = iter(make_loader(f"{shards}/train", batch_size=params.batch_size, workers=params.workers,
                               crop_samples=int(params.crop_seconds * model_config.sr), seed=params.seed * 100003 + state.step,
                               repeat=True))  # fmt: skip
    started = time.perf_counter() - state.seconds
    ticker = Ticker("train step", params.steps, start=state.step) if accelerator.is_main_process else None
    while state.step < params.steps and not stop:
        degraded, target = (t.to(accelerator.device) for t in next(batches))
        with accelerator.accumulate(generator, discriminator):
            # the inputs' codec cutoffs: where an anchored generator starts its band, and the band-level term's
            cutoff = accelerator.unwrap_model(generator).cutoff_bins(degraded)  # (B,)
            restored = generator(degraded, cutoff=cutoff)
            # discriminator step: real vs the generator's output, no gradient into the generator.
            # One forward of real and fake together per backward: what DDP expects of a module.
            d_loss = discriminator_loss(*judge(discriminator, target, restored.detach()))
            accelerator.backward(d_loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(discriminator.parameters(), params.grad_clip)
            opt_d.step()
            opt_d.zero_grad(set_to_none=True)
            # generator step: fool the (just updated, now frozen) discriminator, match its features and the spectrum
            discriminator.requires_grad_(False)
            g_loss, parts = generator_loss(target, restored, *judge_for_generator(discriminator, target, restored), params.loss,
                                           tuple(params.disc_windows), cutoff * model_config.bin_hz)  # fmt: skip
            discriminator.requires_grad_(True)
            accelerator.backward(g_loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(generator.parameters(), params.grad_clip)
            opt_g.step()
            opt_g.zero_grad(set_to_none=True)
            if accelerator.sync_gradients:  # schedulers count optimiser steps, whatever the process count
                sched_g.step()
                sched_d.step()
        state.step += 1
        state.seconds = time.perf_counter() - started
        if accelerator.is_main_process:
            logs.train(state.step, d_loss, g_loss, parts, sched_g.get_last_lr()[0])
            ticker.update(state.step, force=state.step == params.steps, d_loss=d_loss.item(), g_loss=g_loss.item(),
                          stft=parts["stft"].item(), best_val=state.best_val)  # fmt: skip
        if state.step % params.eval_every == 0 or state.step == params.steps:
            val = validate(accelerator, generator, shards, params)
            if val < state.best_val:
                state.best_val, state.bad_evals = val, 0
                if accelerator.is_main_process:
                    save_best(ckpt, accelerator.unwrap_model(generator), state)
            else:
                state.bad_evals += 1
            stop = state.bad_evals >= params.patience
            if accelerator.is_main_process:
                logs.val(state.step, val)
                print(f"validation at step {state.step}: loss {val:.4g} (best {state.best_val:.4g})", flush=True)
        if state.step % params.checkpoint_every == 0 or state.step == params.steps or stop:
            if accelerator.is_main_process:
                save_checkpoint(ckpt, accelerator.unwrap_model(generator), accelerator.unwrap_model(discriminator),
                                (opt_g, opt_d, sched_g, sched_d), state)  # fmt: skip
            accelerator.wait_for_everyone()
        if stop:
            accelerator.print(f"early stop at step {state.step}: {params.patience} evaluations without improvement")
    if math.isinf(state.best_val):  # no evaluation yet (e.g. a budget below eval_every); same on every rank
        state.best_val = validate(accelerator, generator, shards, params)
        if accelerator.is_main_process:
            save_best(ckpt, accelerator.unwrap_model(generator), state)
    summary = {
        "steps": state.step,
        "best_val_loss": state.best_val,
        "train_seconds": round(state.seconds, 1),
        "processes": accelerator.num_processes,
        "audio_seconds_per_second": round(state.step * params.batch_size * params.crop_seconds
                                          * accelerator.num_processes / max(state.seconds, 1e-9), 2),  # fmt: skip
    }
    if accelerator.is_main_process:
        publish(ckpt, out)
        write_json(out / paths.METRICS, summary)
    accelerator.wait_for_everyone()
    return summary, accelerator.unwrap_model(generator)


def judge(discriminator, real: torch.Tensor, fake: torch.Tensor):
    """Discriminator outputs for real and fake, from a single forward of both stacked."""
    outputs = discriminator(torch.cat([real, fake]))
    n = real.shape[0] * real.shape[1]  # the discriminator folds channels into the batch
    split = lambda t: (t[:n], t[n:])  # noqa: E731
    real_out = [(split(logits)[0], [split(h)[0] for h in hidden]) for logits, hidden in outputs]
    fake_out = [(split(logits)[1], [split(h)[1] for h in hidden]) for logits, hidden in outputs]
    return real_out, fake_out


def judge_for_generator(discriminator, real: torch.Tensor, fake: torch.Tensor):
    """As `judge`, for the generator's step, whose backward needs only the fake half: the real half (the
    feature matching's detached targets) runs without autograd, which makes a CPU step about a tenth cheaper
    (bench/train_step.py). The fake half goes first, in training mode, so spectral norm makes its one power
    iteration there; the real half then runs in eval mode with the same normalisation, as both halves had in
    one stacked forward. Still one forward with autograd per backward, as DDP expects."""
    fake_out = discriminator(fake)
    was_training = discriminator.training
    discriminator.eval()
    try:
        with torch.no_grad():
            real_out = discriminator(real)
    finally:
        discriminator.train(was_training)
    return real_out, fake_out


@torch.no_grad()
def validate(accelerator, generator, shards: str, params: TrainParams) -> float:
    """Mean `apollo.losses.spectral_objective` (STFT, log-magnitude and high-band level terms with their
    weights) on the validation shards, summed over ranks: the best generator is the one whose spectrum, level
    in dB included, is nearest the target's (the linear STFT term alone barely sees a quiet high band).

    Runs the unwrapped module: a DDP forward broadcasts buffers, a collective that
    would wait forever for a rank whose share of the validation shards is empty."""
    generator = accelerator.unwrap_model(generator)
    generator.eval()
    loader = make_loader(f"{shards}/val", batch_size=params.batch_size, shuffle_buffer=0, workers=0)
    total = torch.zeros(2, device=accelerator.device)
    for i, (degraded, target) in enumerate(loader):
        if i >= params.val_batches:
            break
        degraded, target = degraded.to(accelerator.device), target.to(accelerator.device)
        cutoff = generator.cutoff_bins(degraded)
        restored = generator(degraded, cutoff=cutoff)
        loss, _ = spectral_objective(target, restored, params.loss, tuple(params.disc_windows),
                                     cutoff * generator.config.bin_hz)
        total += torch.stack([loss * len(target), torch.tensor(float(len(target)), device=total.device)])
    generator.train()
    total = accelerator.reduce(total, reduction="sum")
    return float(total[0] / total[1].clamp_min(1))


class Logs:
    """Step-indexed TSV logs; on resume, rows past the checkpoint's step are dropped."""

    TRAIN = ("step", "d_loss", "g_loss", "adversarial", "feature_matching", "stft", "log_mag", "band_level", "lr_g")

    def __init__(self, folder: Path, resume_step: int):
        folder.mkdir(parents=True, exist_ok=True)
        self.files = {"train": folder / paths.TRAIN_LOG, "val": folder / paths.VAL_LOG}
        heads = {"train": self.TRAIN, "val": ("step", "val_loss")}
        for name, path in self.files.items():
            rows = path.read_text().splitlines()[1:] if path.exists() else []
            kept = [r for r in rows if int(r.split("\t")[0]) <= resume_step]
            write_text(path, "\n".join(["\t".join(heads[name])] + kept) + "\n")

    def _append(self, name: str, values) -> None:
        with open(self.files[name], "a") as f:
            f.write("\t".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in values) + "\n")

    def train(self, step, d_loss, g_loss, parts, lr) -> None:
        values = [float(v.detach()) for v in (d_loss, g_loss, parts["adversarial"], parts["feature_matching"], parts["stft"],
                                          parts["log_mag"], parts["band_level"])]
        self._append("train", [step, *values, float(lr)])

    def val(self, step, value) -> None:
        self._append("val", [step, float(value)])


def save_best(ckpt: Path, generator, state: TrainState) -> None:
    """The best generator so far, beside the checkpoints (its validation loss in best.json, written after it)."""
    save_generator(generator, ckpt / "best.safetensors")
    write_json(ckpt / "best.json", {"step": state.step, "val_loss": state.best_val, "fingerprint": state.fingerprint})


def best_saved(ckpt: Path, fingerprint: str) -> float:
    """Validation loss of the saved best generator of these settings (inf if there is none)."""
    info = ckpt / "best.json"
    if not (info.exists() and (ckpt / "best.safetensors").exists()):
        return float("inf")
    saved = json.loads(info.read_text())
    same = saved.get("fingerprint") == fingerprint and "val_loss" in saved
    return float(saved["val_loss"]) if same else float("inf")


def publish(ckpt: Path, out: Path) -> None:
    """Copy the best generator and the logs out of checkpoints/ (DVC outputs; the generator is `persist`, the logs
    are deleted by DVC before each run)."""
    with atomic(out / paths.GENERATOR) as tmp:
        shutil.copyfile(ckpt / "best.safetensors", tmp)
    with atomic(out / paths.TRAIN_LOGS, folder=True) as staging:
        shutil.copytree(ckpt / paths.TRAIN_LOGS, staging, dirs_exist_ok=True)


def save_checkpoint(out: Path, generator, discriminator, optim, state: TrainState) -> Path:
    """Write checkpoint-<step>/ atomically, point `latest` at it, drop older ones."""
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"checkpoint-{state.step:08d}"
    for stale in out.glob(".checkpoint-*.tmp"):  # left by a run killed while saving (only the main process saves)
        shutil.rmtree(stale, ignore_errors=True)
    with atomic(final, folder=True) as tmp:
        save_generator(generator, tmp / "generator.safetensors")
        save_file({k: v.detach().cpu().contiguous() for k, v in discriminator.state_dict().items()}, str(tmp / "discriminator.safetensors"))
        opt_g, opt_d, sched_g, sched_d = optim
        torch.save({"opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "sched_g": sched_g.state_dict(),
                    "sched_d": sched_d.state_dict(), "torch_rng": torch.get_rng_state()}, tmp / "optim.pt")  # fmt: skip
        write_json(tmp / "state.json", asdict(state))
    write_text(out / "latest", final.name)
    for old in out.glob("checkpoint-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(out: Path, generator, discriminator, optim, state: TrainState) -> Path | None:
    pointer = out / "latest"
    if not pointer.exists():
        return None
    folder = out / pointer.read_text().strip()
    saved_state = json.loads((folder / "state.json").read_text())
    if saved_state.get("fingerprint") != state.fingerprint:
        # a DVC rerun after a params, data or code change must train afresh, not resume
        print(f"{out}: checkpoints were made with other settings, data or code; starting from step 0")
        shutil.rmtree(out, ignore_errors=True)  # every rank gets here; one of them removes it
        return None
    generator.load_state_dict(load_file(str(folder / "generator.safetensors")))
    discriminator.load_state_dict(load_file(str(folder / "discriminator.safetensors")))
    saved = torch.load(folder / "optim.pt", map_location="cpu", weights_only=True)
    for obj, key in zip(optim, ("opt_g", "opt_d", "sched_g", "sched_d")):
        obj.load_state_dict(saved[key])
    torch.set_rng_state(saved["torch_rng"])
    for key, value in saved_state.items():
        setattr(state, key, value)
    return folder
