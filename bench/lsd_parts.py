"""Where the restoration's LSD comes from: the passband the model keeps, the band it makes, or 20-22 kHz.

For each real set of the evaluation (held-out recordings, real mixtures), per bitrate: the restored's LSD
(`apollo.metrics.lsd`, as the evaluation reads it), and for each region of the spectrum its share of the
squared log-power error and the LSD with that region made exact. The regions: the passband (below the
evaluation's codec cutoff, `metrics.high_band_edge`), the made band from the cutoff to 20 kHz, and 20-22
kHz. The passband's bins that the encoder left as holes (more than 70 dB under their frame's mean passband
power in the MP3) are also counted on their own: their share of the bins, their mean signed error (dB,
restored - original) and the LSD with them made exact. docs/quality.md's round-11 table comes from

    .venv/bin/python bench/lsd_parts.py

Needs the pipeline's generator and data (`make repro` first).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from real_sets import one_line_errors, params_and_generator, real_sets  # bench/

from apollo import metrics
from apollo.params import SR
from apollo.restore import restore_array

HOLE_DB = 70.0


def clip_parts(target: np.ndarray, restored: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
    edge = metrics.high_band_edge(degraded, SR)
    p, mp3 = metrics.log_power_spectrogram(target), metrics.log_power_spectrogram(degraded)
    diff = metrics.log_power_spectrogram(restored) - p  # (C, T, F)
    sq = np.square(diff)
    freqs = np.linspace(0, SR / 2, sq.shape[-1])
    regions = {"passband": freqs < edge, "cutoff-20k": (freqs >= edge) & (freqs < 20000), "20-22k": freqs >= 20000}
    # a hole: an MP3 bin far under its frame's mean passband power
    mean = np.log10(np.power(10.0, mp3[..., regions["passband"]]).mean(-1, keepdims=True))
    hole = (mp3 < mean - HOLE_DB / 10) & regions["passband"]
    out = {"lsd": metrics.lsd(target, restored)}  # the evaluation's own; the parts below are its terms
    total = sq.sum(-1).mean()
    for name, mask in list(regions.items()) + [("holes", hole)]:
        out[f"{name} share"] = float(np.where(mask, sq, 0).sum(-1).mean() / total)
        out[f"{name} exact"] = float(np.sqrt(np.where(mask, 0, sq).mean(-1)).mean())
    out["holes % of passband"] = float(100 * hole.sum() / (regions["passband"].sum() * hole.shape[0] * hole.shape[1]))
    out["holes signed dB"] = float(10 * diff[hole].mean()) if hole.any() else float("nan")
    return out


def run() -> None:
    params, generator = params_and_generator(__doc__)
    ev = params.evaluate
    for name, pairs in real_sets(params).items():
        rows = defaultdict(list)
        for pair in pairs:
            with torch.inference_mode():
                restored = restore_array(generator, pair["degraded"].T, ev.chunk_seconds).T  # as the evaluation
            rows[pair["bitrate"]].append(clip_parts(pair["target"], restored, pair["degraded"]))
        print(f"\n{name}: means over clips; share: of the squared log-power error; exact: LSD with it made exact")
        keys = list(next(iter(rows.values()))[0])
        print("  kbps  " + "  ".join(f"{k:>18}" for k in keys))
        for bitrate, clips in sorted(rows.items()):
            print(f"  {bitrate:4}  " + "  ".join(f"{np.nanmean([c[k] for c in clips]):18.3f}" for k in keys))


if __name__ == "__main__":
    one_line_errors(run)
