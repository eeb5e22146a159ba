import pytest
import torch

from apollo.losses import (
    LossWeights,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    generator_loss,
    log_magnitude_loss,
    multi_resolution_stft_loss,
)

REAL = [(torch.tensor([1.0, 1.0]), []), (torch.tensor([0.5]), [])]
FAKE = [(torch.tensor([0.0, 1.0]), []), (torch.tensor([1.0]), [])]


def test_lsgan_discriminator_loss_by_hand():
    # D1: mean((1-1)^2, (1-1)^2) + mean(0^2, 1^2) = 0.5 ; D2: (0.5-1)^2 + 1^2 = 1.25
    assert discriminator_loss(REAL, FAKE).item() == pytest.approx(1.75)


def test_lsgan_generator_loss_by_hand():
    # D1: mean((0-1)^2, (1-1)^2) = 0.5 ; D2: (1-1)^2 = 0
    assert generator_adversarial_loss(FAKE).item() == pytest.approx(0.5)


def test_feature_matching_by_hand_and_targets_detached():
    r1 = torch.tensor([1.0, -3.0], requires_grad=True)
    f1 = torch.tensor([2.0, -1.0], requires_grad=True)
    r2, f2 = torch.tensor([2.0], requires_grad=True), torch.tensor([2.0], requires_grad=True)
    # layer 1: mean(|1-2|, |-3+1|) / mean(|1|, |-3|) = 1.5 / 2 = 0.75 ; layer 2: 0 ; mean over layers
    loss = feature_matching_loss([(None, [r1, r2])], [(None, [f1, f2])])
    assert loss.item() == pytest.approx(0.375)
    loss.backward()
    assert r1.grad is None and f1.grad is not None


def test_stft_loss_is_relative_magnitude_error():
    y = torch.randn(2, 4096)
    windows = (64, 256)
    assert multi_resolution_stft_loss(y, torch.zeros_like(y), windows).item() == pytest.approx(2.0, rel=1e-5)
    assert multi_resolution_stft_loss(y, 0.5 * y, windows).item() == pytest.approx(1.0, rel=1e-5)
    assert multi_resolution_stft_loss(y, -y, windows).item() == pytest.approx(0.0, abs=1e-6)


def test_generator_total_weights_the_parts():
    y = torch.randn(1, 1, 2048)
    real = [(torch.ones(3), [torch.ones(2)])]
    fake = [(torch.zeros(3), [torch.zeros(2)])]
    total, parts = generator_loss(y, torch.zeros_like(y), real, fake, LossWeights(2.0, 3.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.0), windows=(64,))
    assert parts["adversarial"].item() == pytest.approx(1.0)
    assert parts["feature_matching"].item() == pytest.approx(1.0)
    assert parts["stft"].item() == pytest.approx(1.0, rel=1e-5)
    assert total.item() == pytest.approx(10.0, rel=1e-5)
    total, parts = generator_loss(y, 0.1 * y, real, fake, LossWeights(0.0, 0.0, 0.0, 7.0, 0.0, 0.0, 0.0, 0.0, 20.0), windows=(64,))
    assert parts["log_mag"].item() == pytest.approx(2.0, rel=1e-3)  # 20 dB too quiet everywhere: 2 log10 units
    assert total.item() == pytest.approx(14.0, rel=1e-3)


def test_log_magnitude_loss_counts_quiet_bands_as_loud_ones():
    """Relative to the same error in the loud band, a level error in a band 60 dB down weighs far more in the
    log loss than in the linear STFT loss, which barely sees it: why the log term makes the high band follow
    the music."""
    t = torch.arange(8192) / 44100
    loud, quiet = torch.sin(2 * torch.pi * 1000 * t), 1e-3 * torch.sin(2 * torch.pi * 17000 * t)
    target = (loud + quiet)[None]
    wrong_quiet = (loud + 10 * quiet)[None]  # the high tone 20 dB too loud
    wrong_loud = (10 * loud + quiet)[None]  # the low tone 20 dB too loud
    windows = (256,)
    log_q, log_l = log_magnitude_loss(target, wrong_quiet, windows), log_magnitude_loss(target, wrong_loud, windows)
    lin_q, lin_l = (multi_resolution_stft_loss(target, x, windows) for x in (wrong_quiet, wrong_loud))
    assert log_q / log_l > 0.1
    assert log_q / log_l > 20 * (lin_q / lin_l)


def _band_pair(gain_db: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A target with a sparse high band (bursts above 11 kHz) and an estimate whose high band is steady noise
    of the same mean power times gain_db: the band made without knowing the target's fine structure."""
    g = torch.Generator().manual_seed(seed)
    n = 44100
    hz = torch.fft.rfftfreq(n, 1 / 44100)

    def band(x, low):
        spec = torch.fft.rfft(x)
        return torch.fft.irfft(spec * ((hz < 11000) if low else (hz >= 11000)), n=n)

    low = band(torch.randn(n, generator=g), True)
    bursts = (torch.rand(n // 441, generator=g) < 0.3).float().repeat_interleave(441)  # 10 ms on or off
    high = band(torch.randn(n, generator=g), False) * bursts
    steady = band(torch.randn(n, generator=g), False)
    steady = steady * (high.square().mean() / steady.square().mean()).sqrt() * 10 ** (gain_db / 20)
    return (low + high).view(1, 1, n) * 0.1, (low + steady).view(1, 1, n) * 0.1


def test_high_band_level_term_is_lowest_where_the_band_power_matches():
    """The L1 spectral terms are lowest for a made band quieter than the target's (its fine structure is
    not the target's); the high-band level term, per 20 ms tile, nearer the matching power."""
    from apollo.losses import high_band_level_loss, spectral_losses

    gains = [-12.0, -9.0, -6.0, -3.0, 0.0, 3.0, 6.0]
    cutoff = torch.tensor([11000.0])
    band, linear = [], []
    for gain in gains:
        target, estimate = _band_pair(gain)
        band.append(float(high_band_level_loss(target, estimate, cutoff)))
        linear.append(float(spectral_losses(target, estimate, (128, 512, 2048), log=False)[0]))
    best_band, best_linear = gains[band.index(min(band))], gains[linear.index(min(linear))]
    assert best_linear <= -6, linear
    assert best_band >= -3, band
    target, _ = _band_pair(0.0)
    assert float(high_band_level_loss(target, target, cutoff)) == 0.0
    assert float(high_band_level_loss(target, target * 0.1, cutoff)) == pytest.approx(2.0, abs=0.01)  # 20 dB (the floor: -100 dB a bin)
    assert float(high_band_level_loss(target, target * 0.1, torch.tensor([22050.0]))) == 0.0  # no cutoff, no term


def test_high_band_level_term_long_term_and_per_sub_band():
    """Over the whole crop the term sees the band's long-term level (bursts against a steady band of the same
    mean power cost nothing), and per sub-band it sees the band's slope, which the whole band's power hides."""
    from apollo.losses import high_band_level_loss

    cutoff = torch.tensor([11000.0])
    target, estimate = _band_pair(0.0)  # the same mean band power, bursts against steady
    assert float(high_band_level_loss(target, estimate, cutoff, pool_ms=20.0)) > 0.2
    assert float(high_band_level_loss(target, estimate, cutoff, pool_ms=10_000.0)) < 0.05
    # a band falling 30 dB from 11 to 22 kHz against a flat one of about the same total power
    n, g = 44100, torch.Generator().manual_seed(1)
    spec = torch.fft.rfft(torch.randn(n, generator=g))
    hz = torch.fft.rfftfreq(n, 1 / 44100)
    above = hz >= 11000
    tilt = 10 ** (-30 * ((hz - 11000) / 11050).clamp(0, 1) / 20)
    falling = torch.fft.irfft(spec * above * tilt, n)
    flat = torch.fft.irfft(spec * above, n)
    flat = flat * falling.square().mean().sqrt() / flat.square().mean().sqrt()
    whole = float(high_band_level_loss(falling.view(1, 1, n), flat.view(1, 1, n), cutoff, pool_ms=10_000.0))
    sub = float(high_band_level_loss(falling.view(1, 1, n), flat.view(1, 1, n), cutoff, pool_ms=10_000.0, pool_hz=2000.0))
    assert whole < 0.05 and sub > 0.5, (whole, sub)
