"""Where a CPU training step's time goes, and what judging the real half without autograd saves.

Runs the train loop's step (cutoff, generator, discriminator step, generator step) on a batch shaped as the
loader's (params.yaml: batch_size x 2 channels x crop_seconds, band-limited noise) with the default model and
discriminators, with the generator's step judging real and fake in one stacked forward (`apollo.train.judge`)
and as training does (`apollo.train.judge_for_generator`), in one run, in the order A B B A; prints each
variant's mean time per part and the ratio of the two totals.
Usage: python bench/train_step.py [--steps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from apollo.config import load_params
from apollo.losses import discriminator_loss, generator_loss
from apollo.models.apollo import Apollo
from apollo.models.discriminator import MultiResolutionDiscriminator
from apollo.train import judge, judge_for_generator


def batch(params) -> tuple[torch.Tensor, torch.Tensor]:
    n = int(params.train.crop_seconds * params.model.sr)
    target = 0.1 * torch.randn(params.train.batch_size, 2, n)
    spectrum = torch.fft.rfft(target)
    spectrum[..., spectrum.shape[-1] // 2 :] = 0  # a codec cutoff at half the band
    return torch.fft.irfft(spectrum, n), target


def run(params, generator_judge, steps: int) -> dict[str, float]:
    torch.manual_seed(0)
    tp = params.train
    g = Apollo(params.model)
    d = MultiResolutionDiscriminator(windows=tuple(tp.disc_windows), channels=tp.disc_channels)
    opt_g, opt_d = torch.optim.AdamW(g.parameters(), tp.lr_g), torch.optim.AdamW(d.parameters(), tp.lr_d)
    degraded, target = batch(params)
    times: dict[str, float] = {}

    def lap(name: str, start: float) -> float:
        now = time.perf_counter()
        times[name] = times.get(name, 0.0) + now - start
        return now

    for step in range(steps + 2):  # two warm-up steps
        if step == 2:
            times.clear()
        t = time.perf_counter()
        cutoff = g.cutoff_bins(degraded)
        restored = g(degraded, cutoff=cutoff)
        t = lap("generator forward", t)
        d_loss = discriminator_loss(*judge(d, target, restored.detach()))
        d_loss.backward()
        opt_d.step()
        opt_d.zero_grad(set_to_none=True)
        t = lap("discriminator step", t)
        d.requires_grad_(False)
        outputs = generator_judge(d, target, restored)
        t = lap("generator step: judge", t)
        g_loss, _ = generator_loss(target, restored, *outputs, tp.loss, tuple(tp.disc_windows), cutoff * params.model.bin_hz)
        d.requires_grad_(True)
        g_loss.backward()
        opt_g.step()
        opt_g.zero_grad(set_to_none=True)
        lap("generator step: losses, backward", t)
    return {name: seconds / steps for name, seconds in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant and pass (after 2 warm-up steps)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    params = load_params()
    variants = {"stacked (judge)": judge, "split (judge_for_generator)": judge_for_generator}
    results: dict[str, dict[str, float]] = {name: {} for name in variants}
    for name in (*variants, *reversed(variants)):  # A B B A: a machine that speeds up or slows down favours neither
        for part, seconds in run(params, variants[name], args.steps).items():
            results[name][part] = results[name].get(part, 0.0) + seconds / 2
    for name, parts in results.items():
        print(f"{name}: {sum(parts.values()):.3f} s a step")
        for part, seconds in parts.items():
            print(f"  {part:34s} {seconds * 1000:7.1f} ms")
    stacked, split = (sum(parts.values()) for parts in results.values())
    print(f"split / stacked: {split / stacked:.3f} ({torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
