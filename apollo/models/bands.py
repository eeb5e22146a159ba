"""STFT geometry and the band layout shared by every Apollo implementation."""

from __future__ import annotations


def stft_params(sr: int, win_ms: float) -> tuple[int, int]:
    """(n_fft, hop) of the published model: window = n_fft = sr*win/1000, hop = window/2."""
    n_fft = int(sr * win_ms / 1000)
    return n_fft, n_fft // 2


def band_widths(n_fft: int, bands: int = 80) -> list[int]:
    """Published split: ``bands-1`` bands of n_fft//(2*bands) bins, the last takes the rest.

    At 44.1 kHz / 20 ms: 442 bins -> 79 bands of 5 bins and one of 47.
    """
    bins = n_fft // 2 + 1
    width = n_fft // (2 * bands)
    if width < 1 or width * (bands - 1) >= bins:
        raise ValueError(f"cannot split {bins} STFT bins into {bands} bands")
    return [width] * (bands - 1) + [bins - width * (bands - 1)]
