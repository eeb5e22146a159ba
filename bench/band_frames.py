"""Where the made band's log-spectral error lies, frame by frame, on the evaluation's real mixtures.

For each clip (`mixture_pairs`, mixed as the evaluation mixes them; restored as `apollo restore` does) and
each frame of the evaluation's 2048-point spectrogram, the log10 power difference, restored - original, over
the band from the codec cutoff to 20 kHz: its mean square, split into the frame's mean (the band's level in
that frame) and the rest (its shape within the frame). Then the frames whose anchor is empty in the MP3,
where the 2 kHz under the cutoff lie more than 60 dB under the frame's mean passband power (the encoder
zeroed them): their share per bitrate, the original's band level in them, and the restored band's mean
error there and elsewhere. docs/quality.md's round-7 figures come from

    .venv/bin/python bench/band_frames.py --checkpoint /tmp/fresh5/data/train/generator.safetensors

with the round-5 model, run on round 5's code (a checkout of 1d8a3a1 first on PYTHONPATH) for the
anchor read from the MP3's zeros and on this code for the anchor read from the fill.

Needs a model (`make repro` first, or --checkpoint) and the synth stage's held-out songs.
"""

from __future__ import annotations

import argparse
import itertools
from collections import defaultdict

import numpy as np
import torch

from apollo import metrics
from apollo.checkpoint import CheckpointError, load_generator
from apollo.config import project_params
from apollo.evaluate import EvaluationError, mixture_pairs
from apollo.params import SR
from apollo.restore import restore_array

TOP_HZ, ANCHOR_HZ, EMPTY_DB = 20000.0, 2000.0, -60.0


def frame_rows(target: np.ndarray, degraded: np.ndarray, restored: np.ndarray) -> np.ndarray:
    """(channels, samples) each -> (frames, 5): band mean-square log error, its frame-level part, the
    frame's mean log error, the anchor and the original's band, both in dB re the frame's mean passband power."""
    edge = metrics.high_band_edge(degraded, SR)
    # channels' frames together: (channels * frames, bins)
    p, m, r = (np.concatenate(metrics.power_spectrogram(x)) for x in (target, degraded, restored))
    hz = np.linspace(0, SR / 2, p.shape[-1])
    band, anchor, passband = (hz >= edge) & (hz < TOP_HZ), (hz >= edge - ANCHOR_HZ) & (hz < edge), hz < edge
    diff = np.log10(np.maximum(r[:, band], metrics.EPS)) - np.log10(np.maximum(p[:, band], metrics.EPS))
    level = diff.mean(-1)
    mean = m[:, passband].mean(-1) + 1e-30
    re_mean = lambda x: 10 * np.log10(x / mean + 1e-30)  # noqa: E731
    return np.stack([np.square(diff).mean(-1), np.square(level), level,
                     re_mean(m[:, anchor].mean(-1)), re_mean(p[:, band].mean(-1))], axis=1)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default="data/train/generator.safetensors")
    ap.add_argument("--clips", type=int, default=36, help="real mixtures to score (the evaluation's first ones)")
    args = ap.parse_args()
    params = project_params()
    try:
        generator = load_generator(args.checkpoint).eval()
        pairs = mixture_pairs(params.evaluate.real_mixtures, params.shards, params.sad.detection,
                              params.evaluate.real_mixture_samples)  # fmt: skip
    except (CheckpointError, EvaluationError) as e:
        raise SystemExit(f"band_frames: {e}") from None
    rows = defaultdict(list)
    with torch.inference_mode():
        for pair in itertools.islice(pairs, args.clips):
            restored = restore_array(generator, pair["degraded"].T, params.evaluate.chunk_seconds).T
            rows[pair["bitrate"]].append(frame_rows(pair["target"], pair["degraded"], restored))
    every = np.concatenate([x for v in rows.values() for x in v])
    empty = every[:, 3] < EMPTY_DB
    print(f"{args.clips} real mixtures, {len(every)} frames; band = codec cutoff to {TOP_HZ / 1000:.0f} kHz")
    print(f"band mean-square log10 error {every[:, 0].mean():.2f}: frame level {every[:, 1].mean():.2f}, "
          f"shape within the frame {(every[:, 0] - every[:, 1]).mean():.2f}")  # fmt: skip
    shares = ", ".join(f"{k} kbps {np.mean(np.concatenate(v)[:, 3] < EMPTY_DB):.0%}" for k, v in sorted(rows.items()))
    print(f"frames with an empty anchor (under {EMPTY_DB:.0f} dB re the frame's mean): {empty.mean():.1%} ({shares})")
    for name, sel in (("empty anchor", empty), ("the others", ~empty)):
        if sel.any():
            print(f"  {name}: original's band {np.median(every[sel, 4]):.1f} dB re the frame's mean (median); "
                  f"restored - original {10 * every[sel, 2].mean():+.1f} dB (mean), {10 * np.sqrt(every[sel, 1].mean()):.1f} dB RMS; "
                  f"{every[sel, 0].sum() / every[:, 0].sum():.0%} of the band's squared error")  # fmt: skip


if __name__ == "__main__":
    main()
