"""How filling the codec's holes in the kept passband moves LSD, SI-SNR and ViSQOL: the grid behind
`model.hole_gate_db` and `hole_level_db`.

No model is involved: the passband a keeping model outputs is the MP3's own, so this fills the MP3 itself
(`apollo.models.apollo.fill_holes`, the model's own function, on the model's STFT and cutoff) and scores
it with the evaluation's code against the original, on the *training* shards, where the defaults were
chosen (the level with the lowest LSD that keeps the unfilled ViSQOL at every bitrate, the gate at the
middle of a flat range; docs/quality.md, round 5):

    .venv/bin/python bench/hole_fill.py --shards data/shards/train --clips 96

Prints one line per (gate, level): mean LSD, SI-SNR and ViSQOL, and ViSQOL per bitrate.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch

from apollo.config import project_params
from apollo.evaluate import score, synthetic_pairs
from apollo.metrics import high_band_edge
from apollo.models.apollo import Apollo, fill_holes, hole_phases
from apollo.params import SR


def filled_versions(model: Apollo, phases: torch.Tensor, degraded: np.ndarray, grid) -> list[np.ndarray]:
    """(channels, samples) MP3 -> per (gate, level) of `grid`, the same with its passband's holes filled
    (gate None: only the STFT round trip). The STFT and the cutoff are computed once for the whole grid."""
    x = torch.from_numpy(degraded).float()
    spec = model.stft(x)  # (C, F, T)
    cutoff = model.cutoff_bins(spec[None]).expand(spec.shape[0])
    return [model.istft(spec if gate is None else fill_holes(spec, cutoff, phases, gate, level), x.shape[-1]).numpy()
            for gate, level in grid]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", default="data/shards/train", help="a split folder of shards (default: training)")
    ap.add_argument("--clips", type=int, default=96)
    ap.add_argument("--gates", nargs="+", type=float, default=[-70.0, -80.0, -90.0])
    ap.add_argument("--levels", nargs="+", type=float, default=[-50.0, -55.0, -60.0, -65.0])
    args = ap.parse_args()
    model = Apollo(project_params().model).eval()  # only its STFT and cutoff finder are used
    phases = hole_phases(model.config.n_fft // 2 + 1)
    grid = [(None, 0.0)] + [(g, v) for g, v in itertools.product(args.gates, args.levels) if v > g]
    rows = []  # per clip: bitrate, then (lsd, si_snr, visqol) per grid point
    for pair in synthetic_pairs(args.shards, args.clips):
        edge = high_band_edge(pair["degraded"], SR)
        row = [pair["bitrate"]]
        for restored in filled_versions(model, phases, pair["degraded"], grid):
            s = score(pair["target"], restored, True, edge)
            row += [s["lsd"], s["si_snr"], s["visqol"]]
        rows.append(row)
    if not rows:
        raise SystemExit(f"error: no pairs in {args.shards}")
    a = np.array(rows)
    rates = sorted(set(a[:, 0]))
    print(f"{len(a)} clips of {args.shards}; ViSQOL per bitrate {[int(r) for r in rates]}")
    for i, (gate, level) in enumerate(grid):
        lsd, sisnr, vq = a[:, 1 + 3 * i], a[:, 2 + 3 * i], a[:, 3 + 3 * i]
        per_rate = " ".join(f"{vq[a[:, 0] == r].mean():.3f}" for r in rates)
        what = "no fill" if gate is None else f"gate {gate:g} level {level:g}"
        print(f"{what:24s} LSD {lsd.mean():.3f}  SI-SNR {sisnr.mean():.3f}  ViSQOL {vq.mean():.4f}  ({per_rate})")


if __name__ == "__main__":
    main()
