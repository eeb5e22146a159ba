"""Restoration metrics on (channels, samples) or (samples,) numpy arrays: higher is better except LSD.

* SDR (dB):     10 log10( |s|^2 / |s - s_hat|^2 ), summed over channels (plain SNR, no scale invariance).
* SI-SNR (dB):  per channel, both signals made zero-mean, s_t = (<s_hat, s> / |s|^2) s, e = s_hat - s_t,
                10 log10( |s_t|^2 / |e|^2 ); the mean over channels.
* LSD:          per channel, power spectra P = |STFT|^2 with a 2048-point Hann window and hop 512,
                floored at 1e-10: sqrt( mean over bins of (log10 P - log10 P_hat)^2 ) per frame, then
                the mean over frames and channels. Unitless (log10 power), 0 for identical signals.
* high-band level error (dB): the long-term level of the band from the codec's cutoff (found in the degraded
                input's long-term spectrum; 16 kHz when it shows none) to 20 kHz, estimate minus reference,
                as an absolute value: does the restored band sit as loud as the original's, whatever the music.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-10


def _channels(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x[None] if x.ndim == 1 else x


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    s, s_hat = _channels(reference), _channels(estimate)
    return float(10 * np.log10((np.square(s).sum() + EPS) / (np.square(s - s_hat).sum() + EPS)))


def si_snr(reference: np.ndarray, estimate: np.ndarray) -> float:
    s, s_hat = _channels(reference), _channels(estimate)
    s = s - s.mean(-1, keepdims=True)
    s_hat = s_hat - s_hat.mean(-1, keepdims=True)
    scale = (s_hat * s).sum(-1, keepdims=True) / (np.square(s).sum(-1, keepdims=True) + EPS)
    target = scale * s
    noise = s_hat - target
    per_channel = 10 * np.log10((np.square(target).sum(-1) + EPS) / (np.square(noise).sum(-1) + EPS))
    return float(per_channel.mean())


def power_spectrogram(x: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """(channels, samples) -> (channels, frames, bins), Hann window, no padding."""
    x = _channels(x)
    if x.shape[-1] < n_fft:
        x = np.pad(x, ((0, 0), (0, n_fft - x.shape[-1])))
    frames = 1 + (x.shape[-1] - n_fft) // hop
    index = np.arange(n_fft)[None] + hop * np.arange(frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return np.square(np.abs(np.fft.rfft(x[:, index] * window, axis=-1)))


def log_power_spectrogram(x: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """(channels, samples) -> (channels, frames, bins) log10 power, floored at EPS: what LSD compares."""
    return np.log10(np.maximum(power_spectrogram(x, n_fft, hop), EPS))


def lsd(reference: np.ndarray, estimate: np.ndarray, n_fft: int = 2048, hop: int = 512) -> float:
    p, p_hat = log_power_spectrogram(reference, n_fft, hop), log_power_spectrogram(estimate, n_fft, hop)
    return float(np.sqrt(np.square(p - p_hat).mean(-1)).mean())


def long_term_level_db(x: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """(bins,) mean power over frames and channels, in dB (floored at -200)."""
    return 10 * np.log10(np.maximum(power_spectrogram(x, n_fft, hop).mean((0, 1)), 1e-20))


def band_level_db(level_db: np.ndarray, lo_hz: float, hi_hz: float, sr: int) -> float:
    """Total power of a band of a long-term spectrum (dB)."""
    freqs = np.linspace(0, sr / 2, len(level_db))
    band = (freqs >= lo_hz) & (freqs < hi_hz)
    return float(10 * np.log10(np.sum(10 ** (level_db[band] / 10)) + 1e-20))


def high_band_edge(degraded: np.ndarray, sr: int, top_hz: float = 20000.0) -> float:
    """Where the band the codec removed starts: its cutoff, or 16 kHz when the input shows none."""
    from apollo.audio.spectrum import codec_cutoff

    cut = codec_cutoff(long_term_level_db(degraded), sr)
    return min(cut if cut is not None else 16000.0, top_hz - 1000.0)


def band_level_difference(reference_db: np.ndarray, estimate_db: np.ndarray, lo_hz: float, hi_hz: float, sr: int) -> float:
    """level(estimate) - level(reference) in dB of the band [lo_hz, hi_hz), from their long-term spectra
    (`long_term_level_db`): signed, + where the estimate is louder."""
    return band_level_db(estimate_db, lo_hz, hi_hz, sr) - band_level_db(reference_db, lo_hz, hi_hz, sr)


def high_band_level_error(reference: np.ndarray, estimate: np.ndarray, lo_hz: float, sr: int, top_hz: float = 20000.0) -> float:
    """|level(estimate) - level(reference)| in dB of the band [lo_hz, top_hz)."""
    return float(abs(band_level_difference(long_term_level_db(reference), long_term_level_db(estimate), lo_hz, top_hz, sr)))
