"""Peak RSS of `apollo restore` on a 10 s and a 120 s stereo file (paper-size generator).

Each restore runs in its own process; its peak RSS comes from wait4's rusage.
Target: ratio (120 s / 10 s) <= 1.5, i.e. memory flat in file length.
Usage: python bench/restore_memory.py [--seconds 10 120] [--feature-dim 256]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from apollo.checkpoint import save_generator
from apollo.config import project_params
from apollo.params import SR
from apollo.models.apollo import Apollo


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"restore failed: {proc.stderr.read().decode()}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, nargs="+", default=[10, 120])
    ap.add_argument("--feature-dim", type=int, default=256)
    ap.add_argument("--chunk-seconds", type=float, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torch.manual_seed(0)
        ckpt = tmp / "g.safetensors"
        save_generator(Apollo(replace(project_params("paper").model, feature_dim=args.feature_dim)), ckpt)
        rng = np.random.default_rng(0)
        results = []
        for seconds in args.seconds:
            src = tmp / f"in_{seconds:g}s.wav"
            sf.write(str(src), (0.1 * rng.standard_normal((int(seconds * SR), 2))).astype(np.float32), SR)
            cmd = [sys.executable, "-m", "apollo", "restore", str(src), "-o", str(tmp / f"out_{seconds:g}.wav"),
                   "-c", str(ckpt), "--device", "cpu", "--chunk-seconds", str(args.chunk_seconds)]
            rss, wall = peak_rss_mb(cmd)
            results.append(rss)
            print(f"{seconds:6.0f} s stereo: peak RSS {rss:7.0f} MB, wall {wall:6.1f} s ({wall / seconds:.2f} s per audio s)")
        print(f"peak RSS ratio {args.seconds[-1]:g} s / {args.seconds[0]:g} s: {results[-1] / results[0]:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
