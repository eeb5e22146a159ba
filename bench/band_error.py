"""Signed high-band level error per clip on the held-out real recordings: is the made band too quiet or too
loud, and on which music.

For each clip (the evaluation's own held-out recordings, `real_audio_pairs`, and its long-term spectrum):
the original's brightness (16-20 kHz re the full band, dB), the codec cutoff found in the MP3, and the
restored band's level minus the original's, dB, from the cutoff to 20 kHz and per 2 kHz sub-band up from the
cutoff. Then the median signed and absolute error and their correlation with brightness. docs/quality.md's
round-3 diagnostic comes from

    .venv/bin/python bench/band_error.py --checkpoint /tmp/study/lt2k/generator.safetensors

Needs a model: `make repro` first, or --checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from apollo import metrics
from apollo.checkpoint import load_generator
from apollo.config import project_params
from apollo.evaluate import brightness, real_audio_pairs, trained_recordings
from apollo.params import SR
from apollo.restore import restore_array

TOP_HZ = 20000.0


def signed_errors(target: np.ndarray, restored: np.ndarray, edge_hz: float, width_hz: float = 2000.0) -> tuple[float, list[float]]:
    """(channels, samples) each -> (restored - original over [edge, 20 kHz), the same per sub-band), dB."""
    lt, lr = metrics.long_term_level_db(target), metrics.long_term_level_db(restored)

    def err(lo: float, hi: float) -> float:
        return metrics.band_level_difference(lt, lr, lo, hi, SR)

    edges = np.append(np.arange(edge_hz, TOP_HZ - width_hz / 2, width_hz), TOP_HZ)  # a short last piece joins the one below
    return err(edge_hz, TOP_HZ), [err(lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", help="default: the pipeline's trained generator")
    ap.add_argument("--clips", type=int, default=8, help="held-out recordings (default 8, as bench/quality_study.py)")
    ap.add_argument("--kbps", nargs="+", type=int, default=[32, 64, 128])
    args = ap.parse_args()
    params = project_params()
    checkpoint = Path(args.checkpoint or params.generator_path)
    if not checkpoint.is_file():
        raise SystemExit(f"error: {checkpoint}: no model (make repro first, or --checkpoint)")
    ev = params.evaluate
    if not Path(ev.real_audio).is_dir():
        raise SystemExit(f"error: {ev.real_audio}: no real-audio folder (evaluate.real_audio)")
    model = load_generator(checkpoint).eval()
    pairs = real_audio_pairs(ev.real_audio, args.clips, ev.real_seconds, tuple(args.kbps), trained_recordings(ev.recordings))
    print("kbps  cutoff_hz  brightness_db  error_db  per 2 kHz sub-band (dB)")
    errors, bright = [], []
    with torch.inference_mode():
        for pair in pairs:
            restored = restore_array(model, pair["degraded"].T, ev.chunk_seconds).T
            edge = metrics.high_band_edge(pair["degraded"], SR)
            total, subs = signed_errors(pair["target"], restored, edge)
            errors.append(total)
            bright.append(brightness(pair["target"]))
            print(f"{pair['bitrate']:4d}  {edge:9.0f}  {bright[-1]:13.1f}  {total:8.1f}  " + " ".join(f"{e:.1f}" for e in subs))
    e, b = np.array(errors), np.array(bright)
    print(f"median signed {np.median(e):.1f} dB, median absolute {np.median(np.abs(e)):.1f} dB, "
          f"correlation with brightness {np.corrcoef(e, b)[0, 1]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
