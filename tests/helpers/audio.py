"""Test audio: tones, noise, and writing it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from apollo.params import SR


def write_tone(path: Path, seconds: float = 1.0, sr: int = SR, channels: int = 2, **kw) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    audio = np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], 1).astype(np.float32)
    sf.write(str(path), audio, sr, **kw)
    return audio


def noise(seconds: float, seed: int, channels: int = 2, gap: tuple[float, float] | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (0.1 * rng.standard_normal((int(seconds * SR), channels))).astype(np.float32)
    if gap:
        x[int(gap[0] * SR) : int(gap[1] * SR)] = 0
    return x


def write(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, SR)


def holed_noise(seconds: float, channels: int = 1, hole_hz: tuple[float, float] = (3000.0, 4000.0), cut_hz: float = 11000.0,
                seed: int = 0) -> np.ndarray:
    """(samples, channels) float32 white noise with nothing above cut_hz and a band the codec zeroed (hole_hz,
    120 dB down): what an MP3 at a low bitrate leaves."""
    rng = np.random.default_rng(seed)
    x = 0.1 * rng.standard_normal((int(seconds * SR), channels))
    spec = np.fft.rfft(x, axis=0)
    hz = np.fft.rfftfreq(len(x), 1 / SR)[:, None]
    spec *= np.where((hz >= hole_hz[0]) & (hz < hole_hz[1]), 1e-6, 1.0) * (hz < cut_hz)
    return np.fft.irfft(spec, n=len(x), axis=0).astype(np.float32)


def band_db(x: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    """(samples, channels) -> the first channel's mean power per FFT bin from lo_hz to hi_hz, in dB."""
    power = np.square(np.abs(np.fft.rfft(x[:, 0])))
    hz = np.fft.rfftfreq(len(x), 1 / SR)
    return float(10 * np.log10(power[(hz >= lo_hz) & (hz < hi_hz)].mean()))
