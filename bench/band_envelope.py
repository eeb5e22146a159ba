"""Whether the passband under the codec cutoff tells the made band's course: a linear map, fitted on the training shards.

bench/oracle_band.py found most of ViSQOL's headroom in the made band's level per frame and per sub-band.
An anchored model sets that level from one reading under the cutoff (`model.cutoff_reference_fraction`),
its heads and the learned tilt. Here a ridge regression per quarter octave above the cutoff predicts the
original's level there, each frame, from the MP3's (holes filled, as the model fills them) levels in the
8 quarter octaves under the cutoff over 5 frames, the cutoff and the anchor's reading: all of it relative to
that reading, in log power. Fitted on the training shards' pairs, it is scored on the evaluation's real sets:

* the RMS error (dB) of the predicted level per frame and quarter octave, beside a constant offset from the
  anchor per quarter octave (the anchor and a tilt, without heads);
* the pipeline generator's made band with each frame's quarter-octave levels set to each prediction (its
  fine structure and phases kept), scored per bitrate beside the model as it is.

`--stretch K` scales each prediction's course around its clip's mean by K (a regression shrinks towards
the mean; K > 1 gives its dynamics back). docs/quality.md's round-14 figures come from

    .venv/bin/python bench/band_envelope.py
    .venv/bin/python bench/band_envelope.py --stretch 1.6 2.5

Needs the pipeline's generator and data (`make repro` first), or --checkpoint: an anchored one with a tilt.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from band_correlation import band_off  # bench/
from real_sets import one_line_errors, params_and_generator, print_per_bitrate, restored_sets, scored  # bench/

from apollo.evaluate import synthetic_pairs
from apollo.models.apollo import fill_holes, passband_top_level, reference_bins
from apollo.params import SR
from apollo.restore import array_frames, passband_bins

UNDER, OVER, CONTEXT = 8, 16, 2  # quarter octaves under and over the cutoff, frames each side
FLOOR = 1e-12  # power floor of a level (log10 units: -120 dB)
RIDGE = 1.0
MAX_GAIN = 1.5  # log10 amplitude: a reshaped band moves at most 30 dB


def quarter_index(cut: int, n_bins: int) -> np.ndarray:
    """(F,) each bin's quarter octave re the cutoff: 0 the first above it, -1 the last under it."""
    return np.floor(4 * np.log2((np.arange(n_bins) + 0.5) / cut)).astype(int)


def quarter_levels(power: np.ndarray, index: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """(C, F, T) power -> (C, hi - lo, T): log10 mean power of quarter octaves lo..hi-1 (NaN where one has no bin)."""
    nan = np.full((power.shape[0], power.shape[2]), np.nan)
    return np.stack([np.log10(power[:, index == k].mean(1) + FLOOR) if (index == k).any() else nan for k in range(lo, hi)], 1)


def spectrum(generator, audio: np.ndarray) -> torch.Tensor:
    return generator.stft(torch.from_numpy(np.ascontiguousarray(audio, np.float32)))


def anchor_reading(generator, degraded: np.ndarray, cut: int) -> tuple[torch.Tensor, np.ndarray]:
    """One clip's MP3 -> its STFT with the holes filled, as the model fills them (C, F, T), and the anchor's
    reading per frame, log10 mean power (C, T)."""
    cutoff = torch.full((degraded.shape[0],), cut)
    c = generator.config
    with torch.no_grad():
        mp3 = fill_holes(spectrum(generator, degraded), cutoff, generator.hole_phases, c.hole_gate_db, c.hole_level_db)
        level = passband_top_level(mp3, cutoff, reference_bins(c, cutoff))[:, 0].square().numpy()
    return mp3, np.log10(level + FLOOR)


def features(generator, degraded: np.ndarray, target: np.ndarray, cut: int):
    """One clip -> x (C, 8 x 5 + 2, T) the features, y (C, 16, T) the original's levels over the cutoff,
    r (C, T) the anchor's reading; x and y relative to r (log10 power)."""
    mp3, r = anchor_reading(generator, degraded, cut)
    with torch.no_grad():
        original = spectrum(generator, target).abs().square().numpy()
    index = quarter_index(cut, mp3.shape[1])
    under = quarter_levels(mp3.abs().square().numpy(), index, -UNDER, 0) - r[:, None]
    frames = r.shape[1]
    padded = np.pad(under, ((0, 0), (0, 0), (CONTEXT, CONTEXT)), mode="edge")
    context = [padded[..., k : k + frames] for k in range(2 * CONTEXT + 1)]
    octaves = np.full_like(r, np.log2(cut * SR / generator.config.n_fft / 1000))
    x = np.nan_to_num(np.concatenate([*context, octaves[:, None], r[:, None]], 1))  # a missing quarter (tiny cutoffs): 0
    return x, quarter_levels(original, index, 0, OVER) - r[:, None], r


def training_frames(generator, pairs, items: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames, features), (frames, 16) from the first `items` pairs with a cut, frames with music under it."""
    xs, ys = [], []
    for pair in pairs:
        if len(xs) == items:
            break
        cut = passband_bins(generator, array_frames(pair["degraded"].T), SR)
        if cut < generator.config.n_fft // 2 + 1:
            x, y, r = features(generator, pair["degraded"], pair["target"], cut)
            keep = r > -6  # under the cutoff louder than -60 dB
            xs.append(x.transpose(0, 2, 1)[keep])
            ys.append(y.transpose(0, 2, 1)[keep])
    return np.concatenate(xs), np.concatenate(ys)


def fit(x: np.ndarray, y: np.ndarray) -> dict:
    """Per quarter octave over the cutoff with enough frames: ridge weights (features + 1) and the constant."""
    fits = {}
    for j in range(OVER):
        ok = np.isfinite(y[:, j])
        if ok.sum() >= 1000:
            a = np.c_[x[ok], np.ones(ok.sum())]
            w = np.linalg.solve(a.T @ a + RIDGE * np.eye(a.shape[1]), a.T @ y[ok, j])
            fits[j] = {"w": w, "constant": y[ok, j].mean(), "rms": (np.sqrt(np.mean((a @ w - y[ok, j]) ** 2)),
                                                                  np.std(y[ok, j]))}  # fmt: skip
    return fits


def predict(fits: dict, x: np.ndarray, kind: str) -> np.ndarray:
    """(C, features, T) -> (C, 16, T) levels re the anchor; quarters without a fit continue the last one."""
    out = np.empty((x.shape[0], OVER, x.shape[2]))
    for j in range(OVER):
        f = fits[min(j, max(fits))]
        out[:, j] = np.einsum("ckt,k->ct", x, f["w"][:-1]) + f["w"][-1] if kind == "linear" else f["constant"]
    return out


def reshaped(generator, made: np.ndarray, levels: np.ndarray, cut: int) -> np.ndarray:
    """The made band with each frame's quarter-octave levels (C, 16, T; log10 power) set, its phases kept."""
    m = spectrum(generator, made).numpy()
    index = np.minimum(quarter_index(cut, m.shape[1]), OVER - 1)
    gain = np.clip(0.5 * (levels - quarter_levels(np.abs(m) ** 2, index, 0, OVER)), -MAX_GAIN, MAX_GAIN)
    per_bin = np.where(index[None, :, None] >= 0, 10 ** np.nan_to_num(gain)[:, np.maximum(index, 0)], 0.0)
    return generator.istft(torch.from_numpy(m * per_bin), made.shape[-1]).numpy().astype(np.float64)


def stretched(levels: np.ndarray, k: float) -> np.ndarray:
    mean = levels.mean(2, keepdims=True)
    return mean + k * (levels - mean)


def run() -> None:
    def arguments(ap):
        ap.add_argument("--items", type=int, default=600, help="training pairs to fit on (default 600)")
        ap.add_argument("--stretch", type=float, nargs="+", default=[], help="also score the linear prediction's course x K")

    params, generator, args = params_and_generator(__doc__, arguments)
    if args.items < 1 or any(k <= 0 for k in args.stretch):
        raise SystemExit("error: --items must be at least 1 and --stretch factors above 0")
    fits = fit(*training_frames(generator, synthetic_pairs(f"{params.shards.out}/train"), args.items))
    print("training fit, RMS dB per quarter octave over the cutoff (linear / constant): "
          + ", ".join(f"{j}: {10 * f['rms'][0]:.1f} / {10 * f['rms'][1]:.1f}" for j, f in fits.items()))  # fmt: skip
    systems = ["model", "linear", "constant"] + [f"linear x{k:g}" for k in args.stretch]
    silent = band_off(generator)
    for name, clips in restored_sets(params, generator, silent).items():
        rows, errors = defaultdict(list), defaultdict(list)
        for pair, passband, restored, cut in clips:
            degraded, target = pair["degraded"], pair["target"]
            x, y, r = features(generator, degraded, target, cut)
            levels = {kind: predict(fits, x, kind) for kind in ("linear", "constant")}
            for kind, level in levels.items():
                ok = np.isfinite(y) & (r[:, None] > -6)
                errors[kind].append((level - y)[ok] ** 2)
            levels |= {f"linear x{k:g}": stretched(levels["linear"], k) for k in args.stretch}
            estimates = {"model": restored} | {
                kind: passband + reshaped(generator, restored - passband, level + r[:, None], cut) for kind, level in levels.items()
            }
            rows[pair["bitrate"]].append(scored(target, degraded, estimates))
        print(f"\n{name}: RMS error per frame and quarter octave (dB): "
              + ", ".join(f"{k} {10 * np.sqrt(np.mean(np.concatenate(v))):.2f}" for k, v in errors.items()))  # fmt: skip
        print_per_bitrate(rows, systems)


if __name__ == "__main__":
    one_line_errors(run)
