"""How often the codec cutoff is misread: on training crops, with and without the STFT frames that reach into
the padding; on the evaluation's real sets, with and without the floor under the spectrum
(`codec_cutoff(range_db)`). docs/quality.md's round-8 figures come from

    .venv/bin/python bench/cutoff_reading.py --checkpoint <a generator> --shards <a run's data/shards>

Needs a model and the shards stage's output (`make repro` first); the real sets as the evaluation reads them.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from apollo import metrics
from apollo.audio.spectrum import codec_cutoff
from apollo.checkpoint import CheckpointError, load_generator
from apollo.config import project_params
from apollo.data.loader import make_loader
from apollo.evaluate import EvaluationError, mixture_pairs, real_audio_pairs, trained_recordings
from apollo.models.apollo import find_cutoff
from apollo.params import SR


def crops(generator, shards: str, batches: int, seconds: float) -> None:
    """Training crops as the loader draws them: how many show no cut, read as training did and does."""
    n_bins, edge = generator.config.n_fft // 2 + 1, math.ceil(generator.config.n_fft // 2 / generator.config.hop)
    loader = make_loader(f"{shards}/train", batch_size=4, crop_samples=int(seconds * SR), shuffle_buffer=64, seed=1)
    padded, inner = [], []
    for i, (degraded, _) in enumerate(loader):
        if i >= batches:
            break
        spec = generator.stft(degraded.reshape(-1, degraded.shape[-1])).unflatten(0, degraded.shape[:2])
        mag = spec.abs().square().mean(1).sqrt()  # (B, F, T), as `cutoff_bins` reads it
        padded += find_cutoff(mag, SR).tolist()
        inner += find_cutoff(mag, SR, edge).tolist()
    padded, inner = np.array(padded), np.array(inner)
    off = np.abs(padded - inner) * generator.config.bin_hz > 1000
    print(f"{len(inner)} training crops of {seconds} s: no cut with the padded frames {np.sum(padded == n_bins)}, "
          f"without them {np.sum(inner == n_bins)}; the two readings over 1 kHz apart on {off.sum()}")  # fmt: skip


def real_sets(params) -> None:
    """The evaluation's `hf_err` edge (its codec cutoff) on the real sets, with and without the floor."""
    e = params.evaluate
    sets = {"recordings": real_audio_pairs(e.real_audio, e.real_clips, e.real_seconds, e.real_bitrates,
                                           trained_recordings(e.recordings)),  # fmt: skip
            "mixtures": mixture_pairs(e.real_mixtures, params.shards, params.sad.detection, e.real_mixture_samples)}
    for name, pairs in sets.items():
        moved, total = [], 0
        for pair in pairs:
            level = metrics.long_term_level_db(pair["degraded"])
            cuts = [codec_cutoff(level, SR, range_db=r) for r in (None, 120.0)]
            total += 1
            if None not in cuts and abs(cuts[0] - cuts[1]) > 500 or (cuts[0] is None) != (cuts[1] is None):
                moved.append(f"{pair['key']} ({pair['bitrate']} kbps): {cuts[0]} -> {cuts[1]} Hz")
        print(f"{name}: the floor moves the cut of {len(moved)} of {total} clips" + "".join(f"\n  {m}" for m in moved))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default="data/train/generator.safetensors")
    ap.add_argument("--shards", default="data/shards", help="the shards stage's output folder")
    ap.add_argument("--batches", type=int, default=100, help="training batches of 4 crops to read")
    args = ap.parse_args()
    params = project_params()
    if not Path(args.shards, "train").is_dir():
        raise SystemExit(f"cutoff_reading: no training shards in {args.shards}/train (run `make repro` first)")
    try:
        generator = load_generator(args.checkpoint).eval()
        with torch.inference_mode():
            crops(generator, args.shards, args.batches, params.train.crop_seconds)
        real_sets(params)
    except (CheckpointError, EvaluationError) as e:
        raise SystemExit(f"cutoff_reading: {e}") from None


if __name__ == "__main__":
    main()
