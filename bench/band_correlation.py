"""Why the restoration's SI-SNR is under the MP3's: how the made band relates to the original's waveform.

For each real set of the evaluation, per bitrate, the generator restores every clip twice, as the evaluation
does: as it is, and with its made band switched off (the learned tilt's gain exp(-1000), zero: the kept
passband, its holes filled, nothing above the cutoff). The difference is the made band. Per clip, medians over clips:

* the band-off restoration's SI-SNR - the MP3's (mean over clips, as the evaluation reports SI-SNR): what
  the passband and its hole fill cost;
* the correlation of the made band with the original's band (its spectrum above the evaluation's cutoff,
  `metrics.high_band_edge`), and that correlation's 90th percentile;
* the made band's power re the original band's, dB;
* the original band's power as a share of the MP3's whole error (target - band-off restoration);
* how much the made band changes that error's power, dB (what a waveform metric sees).

docs/quality.md's round-12 table comes from

    .venv/bin/python bench/band_correlation.py

Needs the pipeline's generator and data (`make repro` first), or --checkpoint: an anchored one with a tilt.
"""

from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np
import torch
from real_sets import one_line_errors, params_and_generator, real_sets  # bench/

from apollo import metrics
from apollo.params import SR
from apollo.restore import restore_array


def band_off(generator):
    """A copy of an anchored generator whose made band is silent: exp(TILT_SCALE * -100) is exp(-1000), zero."""
    if not hasattr(generator, "tilt"):
        raise SystemExit("error: the generator has no learned band tilt (an anchored model with model.band_tilt is needed)")
    silent = copy.deepcopy(generator)
    with torch.no_grad():
        silent.tilt.fill_(-100.0)
    return silent


def clip_figures(target: np.ndarray, restored: np.ndarray, passband: np.ndarray, degraded: np.ndarray) -> dict | None:
    """(C, L) arrays -> the figures of one clip; None where the MP3 shows no cut or nothing was made."""
    made, error = restored - passband, target - passband
    hz = np.fft.rfftfreq(target.shape[-1], 1 / SR)
    original = np.fft.irfft(np.fft.rfft(target, axis=-1) * (hz >= metrics.high_band_edge(degraded, SR)), n=target.shape[-1])
    m, t, e = (float(np.sum(x * x)) for x in (made, original, error))
    if m == 0 or t == 0:
        return None
    return {"si_snr_gap": metrics.si_snr(target, passband) - metrics.si_snr(target, degraded),
            "corr": float(np.sum(made * original)) / np.sqrt(m * t), "made_db": 10 * np.log10(m / t),
            "band_share": t / e, "error_db": 10 * np.log10(float(np.sum(np.square(error - made))) / e)}  # fmt: skip


def run() -> None:
    params, generator = params_and_generator(__doc__)
    silent = band_off(generator)
    for name, pairs in real_sets(params).items():
        rows = defaultdict(list)
        for pair in pairs:
            with torch.inference_mode():
                restored, passband = (restore_array(g, pair["degraded"].T, params.evaluate.chunk_seconds).T for g in (generator, silent))
            row = clip_figures(pair["target"], restored, passband, pair["degraded"])
            if row is not None:
                rows[pair["bitrate"]].append(row)
        print(f"\n{name}: kbps, clips, band-off SI-SNR - MP3's (mean), then medians: correlation (q90), made band re "
              "original's (dB), original band / MP3's error, error change (dB)")  # fmt: skip
        for bitrate, clips in sorted(rows.items()):
            c = {k: np.array([r[k] for r in clips]) for k in clips[0]}
            print(f"  {bitrate:4}  {len(clips):3}  {c['si_snr_gap'].mean():+.3f}  {np.median(c['corr']):+.3f} "
                  f"({np.quantile(c['corr'], 0.9):+.3f})  {np.median(c['made_db']):+5.1f}  "
                  f"{np.median(c['band_share']):.2f}  {np.median(c['error_db']):+.2f}")  # fmt: skip


if __name__ == "__main__":
    one_line_errors(run)
