import numpy as np
import pytest

from apollo.metrics import lsd, power_spectrogram, sdr, si_snr

RNG = np.random.default_rng(0)
S = RNG.standard_normal((2, 44100))


def test_sdr_by_hand():
    # error = 0.1 * s  ->  |s|^2 / |0.1 s|^2 = 100  ->  20 dB
    assert sdr(S, 1.1 * S) == pytest.approx(20.0, abs=1e-6)
    assert sdr(S, S) > 90


def test_si_snr_ignores_scale_but_not_noise():
    assert si_snr(S, 0.3 * S) > 90  # scale-invariant
    noise = RNG.standard_normal(S.shape)
    noise -= (noise * S).sum(-1, keepdims=True) / np.square(S).sum(-1, keepdims=True) * S  # orthogonal to S
    noise *= np.sqrt(np.square(S).sum(-1, keepdims=True) / np.square(noise).sum(-1, keepdims=True)) * 0.1
    assert si_snr(S, S + noise) == pytest.approx(20.0, abs=0.05)  # |s|^2 / |0.1 s|^2, per channel


def test_lsd_by_hand():
    assert lsd(S, S) == 0.0
    # a gain g scales power by g^2: every bin differs by 2 log10 g
    assert lsd(S, 10 * S) == pytest.approx(2.0, abs=1e-6)
    # removing the top band (as MP3 does) costs LSD; the floor keeps it finite
    spec = np.fft.rfft(S, axis=-1)
    spec[:, len(spec[0]) // 2 :] = 0
    lowpassed = np.fft.irfft(spec, n=S.shape[-1], axis=-1)
    assert 1.0 < lsd(S, lowpassed) < 10.0


def test_shapes_mono_and_short():
    assert power_spectrogram(S[0]).shape == (1, 1 + (44100 - 2048) // 512, 1025)
    assert power_spectrogram(np.ones(100)).shape == (1, 1, 1025)
    assert np.isfinite(lsd(S[0], np.zeros(44100)))
