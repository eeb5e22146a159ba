import numpy as np
import pytest

from apollo.audio.codec import estimate_lag, ffmpeg_round_trip, fit_length, mp3_frame_kbps, mp3_round_trip

SR = 44100


def music_like(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    tones = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (110, 220, 330, 1250, 5100))
    noise = rng.standard_normal((len(t), 2)) * 0.05
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 1.7 * t)  # amplitude movement keeps the correlation peak sharp
    return (0.1 * (tones * env)[:, None] + noise).astype(np.float32)


@pytest.mark.parametrize("kbps", [24, 32, 48, 64, 96, 128])
def test_mp3_is_sample_aligned_at_every_bitrate(kbps):
    x = music_like()
    y, bitstream = mp3_round_trip(x, SR, kbps)
    assert y.shape == x.shape and y.dtype == np.float32
    assert abs(estimate_lag(x, y, max_lag=3000)) <= 1
    actual = mp3_frame_kbps(bitstream)
    assert actual == max(kbps, 32)  # MPEG-1 (44.1 kHz) has no 24 kbps: LAME steps up to 32
    assert len(bitstream) == pytest.approx(actual * 1000 / 8 * len(x) / SR, rel=0.1)


@pytest.mark.parametrize("codec", ["aac", "opus"])
def test_ffmpeg_codecs_are_aligned(codec):
    x = music_like(seed=1)
    y, _ = ffmpeg_round_trip(x, SR, codec, 64)
    assert y.shape == x.shape
    assert abs(estimate_lag(x, y, max_lag=3000)) <= 1


def test_estimate_lag_and_fit_length():
    x = music_like(1.0)
    shifted = np.concatenate([np.zeros((37, 2), np.float32), x])[: len(x)]
    assert estimate_lag(x, shifted, 500) == 37
    assert fit_length(x, 10).shape == (10, 2)
    padded = fit_length(x[:5], 8)
    assert padded.shape == (8, 2) and not padded[5:].any()
