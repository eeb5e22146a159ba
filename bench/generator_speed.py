"""Generator speed at the paper size: the oracle (published structure) vs ours, same weights, one run.

Prints seconds of compute per second of stereo audio for each input length,
the speed-up, and the achieved GFLOP/s (FLOPs counted with
torch.utils.flop_counter: matmuls, convolutions, attention) against the fp32
peak. The peak is measured in the same run as the best large square sgemm
rate, since the machine may not be the one a nominal figure was quoted for.
Usage: python bench/generator_speed.py [--seconds 3 10] [--threads 2] [--skip-oracle]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from apollo.models.apollo import Apollo
from apollo.models.convert import from_published
from apollo.models.reference import ReferenceApollo
from apollo.params import SR

NOMINAL_PEAK = 157.0  # GFLOP/s quoted for a 2-core AVX2 EPYC (the reference machine)


def sgemm_peak(n: int = 4096, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


@torch.no_grad()
def seconds_per_run(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    model(x[..., :8820])  # warm-up: allocator, thread pool
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        model(x)
        best = min(best, time.perf_counter() - t)
    return best


@torch.no_grad()
def count_flops(model: torch.nn.Module, x: torch.Tensor) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    return counter.get_total_flops()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, nargs="+", default=[3, 10])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--skip-oracle", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    oracle = ReferenceApollo().eval()
    config, state = from_published(oracle.state_dict())
    ours = Apollo(config).eval()
    ours.load_state_dict(state)
    peak = sgemm_peak()
    print(f"threads {args.threads}; measured fp32 sgemm peak {peak:.0f} GFLOP/s (nominal {NOMINAL_PEAK:.0f})")
    print(f"{'audio':>6} {'GFLOP':>7} {'oracle s/s':>11} {'ours s/s':>9} {'speed-up':>9} {'GFLOP/s':>8} {'% peak':>7} {'% nominal':>9}")
    for seconds in args.seconds:
        x = torch.randn(1, 2, int(seconds * SR)) * 0.1
        flops = count_flops(ours, x)
        t_ours = seconds_per_run(ours, x, args.repeats)
        t_oracle = float("nan") if args.skip_oracle else seconds_per_run(oracle, x, 1)
        rate = flops / t_ours / 1e9
        print(
            f"{seconds:5.0f}s {flops / 1e9:7.0f} {t_oracle / seconds:11.2f} {t_ours / seconds:9.2f} "
            f"{t_oracle / t_ours:8.2f}x {rate:8.0f} {100 * rate / peak:6.0f}% {100 * rate / NOMINAL_PEAK:8.0f}%"
        )


if __name__ == "__main__":
    main()
