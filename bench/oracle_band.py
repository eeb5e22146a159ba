"""What a perfect made band would score, and whether the issue's SI-SNR and level targets can both be met.

An anchored model keeps the MP3's passband (its holes filled) and makes only the band above the codec
cutoff. Each real clip of the evaluation is restored here with the pipeline generator's passband (its made
band switched off, as in bench/band_correlation.py) plus an *oracle* band cut from the original, above the
cutoff the generator reads, in the generator's own STFT:

* ``original``: the original's band itself, waveform and all: the best any passband-keeping model can do;
* ``magnitude``: the original's STFT magnitudes with fixed random phases, scaled to the original band's
  power: a band right in level bin by bin and frame by frame whose waveform does not follow the original's,
  the best a band uncorrelated with the original can hope for;
* ``magnitude -4 dB``: the same 4 dB quieter, the edge of the issue's level target (median `hf_err` <= 4 dB);
* ``model``: the generator's own made band, and then the same band with its magnitudes put right step by
  step from the original's, its phases and what is not put right kept: its level over the whole clip
  (``model, clip level``), each frame's (``model, frame level``), each frame's per 2 kHz sub-band
  (``model, frame x 2 kHz level``), every bin's (``model's phases``). What each step gains says where
  the model's band is wrong in a way the metrics see.

Each is scored per bitrate with the evaluation's own `score` (LSD, SI-SNR, ViSQOL, hf_err). Then a bound:
a band uncorrelated with the original's waveform adds its whole power to the error, so its SI-SNR loss
grows with its level. To keep the median `hf_err` within 4 dB, at least half the clips of a bitrate need a
band no quieter than 4 dB under the original's; the least SI-SNR those clips can lose is what the
``magnitude -4 dB`` band loses on the half of them that lose least (the rest made silent, losing what the
passband alone loses). Where that mean is over 0.3 dB, no band uncorrelated with the original meets both
targets at that bitrate; where it is under, only a rule that knows, per clip, which clips may go silent does.

docs/quality.md's round-14 tables come from

    .venv/bin/python bench/oracle_band.py

Needs the pipeline's generator and data (`make repro` first), or --checkpoint: an anchored one with a tilt.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from band_correlation import band_off  # bench/
from band_envelope import spectrum  # bench/
from real_sets import one_line_errors, params_and_generator, print_per_bitrate, real_sets, restored_pair, scored  # bench/

from apollo.params import SR

ORACLES = ("original", "magnitude", "magnitude -4 dB", "model", "model, clip level", "model, frame level",
           "model, frame x 2 kHz level", "model's phases")
LEVEL_TARGET_DB, SI_SNR_TARGET_DB = 4.0, 0.3


def above(x: np.ndarray, hz: float) -> np.ndarray:
    """(C, L) -> (C, L): the part of x above hz (an FFT mask over the whole clip)."""
    spec = np.fft.rfft(x, axis=-1)
    return np.fft.irfft(spec * (np.fft.rfftfreq(x.shape[-1], 1 / SR) >= hz), n=x.shape[-1], axis=-1)


def random_phase_band(generator, target: np.ndarray, cut: int, seed: int) -> np.ndarray:
    """(C, L) -> (C, L): the original's STFT magnitudes above `cut` bins (the generator's STFT) with random
    phases, scaled to the original band's power."""
    spec = spectrum(generator, target)  # (C, F, T)
    phase = torch.rand(spec.shape, generator=torch.Generator().manual_seed(seed)) * 2 * torch.pi
    made = torch.polar(spec.abs(), phase) * (torch.arange(spec.shape[1]) >= cut)[:, None]
    band = generator.istft(made, target.shape[-1]).numpy().astype(np.float64)
    hz = cut * generator.config.sr / generator.config.n_fft
    want, got = (float(np.sum(np.square(above(y, hz)))) for y in (target, band))
    return band * np.sqrt(want / got) if got > 0 else band


def corrected(generator, made: np.ndarray, target: np.ndarray, cut: int) -> dict[str, np.ndarray]:
    """(C, L) made band, original -> the made band with its magnitudes put right step by step, its phases kept:
    its level over the whole clip, each frame's, each frame's per 2 kHz sub-band, every bin's."""
    m, o = spectrum(generator, made), spectrum(generator, target)
    band = (torch.arange(m.shape[1]) >= cut)[:, None]  # (F, 1)
    m, o = m * band, o * band
    pm, po = m.abs().square(), o.abs().square()  # (C, F, T)
    group = (torch.arange(m.shape[1]) * generator.config.sr / generator.config.n_fft // 2000).long()
    sub = lambda p: torch.zeros(p.shape[0], int(group.max()) + 1, p.shape[2]).index_add_(1, group, p)  # noqa: E731
    gains = {"model, clip level": po.sum((1, 2), keepdim=True) / pm.sum((1, 2), keepdim=True).clamp_min(1e-20),
             "model, frame level": po.sum(1, keepdim=True) / pm.sum(1, keepdim=True).clamp_min(1e-20),
             "model, frame x 2 kHz level": (sub(po) / sub(pm).clamp_min(1e-20))[:, group]}  # fmt: skip
    out = {name: m * g.sqrt() for name, g in gains.items()}
    out["model's phases"] = torch.polar(o.abs(), m.angle())
    return {name: generator.istft(s, made.shape[-1]).numpy().astype(np.float64) for name, s in out.items()}


def oracle_rows(generator, silent, pair: dict, seed: int) -> dict | None:
    """The scores of one clip: the passband alone and with each oracle band; None where the MP3 shows no cut."""
    degraded, target = pair["degraded"], pair["target"]
    got = restored_pair(generator, silent, degraded)
    if got is None:
        return None
    passband, restored, cut = got
    hz = cut * SR / generator.config.n_fft
    magnitude = random_phase_band(generator, target, cut, seed)
    estimates = {"passband": passband, "original": passband + above(target, hz), "magnitude": passband + magnitude,
                 "magnitude -4 dB": passband + magnitude * 10 ** (-LEVEL_TARGET_DB / 20), "model": restored}  # fmt: skip
    estimates |= {name: passband + band for name, band in corrected(generator, restored - passband, target, cut).items()}
    return scored(target, degraded, estimates, without_visqol=("passband",))


def bound(clips: list[dict]) -> float:
    """Least mean SI-SNR loss (dB, re the MP3) with at least half the clips' band within 4 dB of the original's:
    the half that lose least at -4 dB get that band, the others none (they lose what the passband loses)."""
    loss = np.array([c["mp3"]["si_snr"] - c["magnitude -4 dB"]["si_snr"] for c in clips])
    silent = np.array([c["mp3"]["si_snr"] - c["passband"]["si_snr"] for c in clips])
    order = np.argsort(loss - silent)
    half = (len(clips) + 1) // 2
    return float((loss[order[:half]].sum() + silent[order[half:]].sum()) / len(clips))


def report(name: str, rows: dict[int, list[dict]]) -> None:
    print(f"\n{name}:")
    print_per_bitrate(rows, list(ORACLES))
    print(f"  least mean SI-SNR loss with the median band within {LEVEL_TARGET_DB:.0f} dB of the original's "
          f"(both targets met where <= {SI_SNR_TARGET_DB}):")  # fmt: skip
    print("  " + ", ".join(f"{b} kbps {bound(c):.2f} dB" for b, c in sorted(rows.items())))


def run() -> None:
    params, generator = params_and_generator(__doc__)
    silent = band_off(generator)
    for name, pairs in real_sets(params).items():
        rows = defaultdict(list)
        for i, pair in enumerate(pairs):
            clip = oracle_rows(generator, silent, pair, seed=i)
            if clip is not None:
                rows[pair["bitrate"]].append(clip)
        report(name, rows)


if __name__ == "__main__":
    one_line_errors(run)
