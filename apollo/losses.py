"""GAN and reconstruction losses of the paper (eqs. 3-7).

Notation: D_k is the k-th discriminator, y the target, y_hat the generator's
output, f_k^l the l-th hidden map of D_k. Sums run over discriminators (and
STFT resolutions); expectations are means over every element.

* discriminator (LSGAN):  sum_k  E[(D_k(y) - 1)^2] + E[D_k(y_hat)^2]
* generator (LSGAN):      sum_k  E[(D_k(y_hat) - 1)^2]
* feature matching:       sum_k  mean_l  E|f_k^l(y) - f_k^l(y_hat)| / E|f_k^l(y)|   (targets detached)
* multi-resolution STFT:  sum_r  E| |STFT_r(y)| - |STFT_r(y_hat)| | / E|STFT_r(y)|
* log magnitude (ours):   sum_r  E| log10(P_r(y) + floor) - log10(P_r(y_hat) + floor) |, P_r = |STFT_r|^2 / (sum w)^2
* generator total:        alpha * adversarial + beta * feature matching + gamma * STFT + delta * log magnitude

Why a log term: the linear STFT loss is dominated by the loud low bands, so a high band 20 dB too loud or too
quiet on a dark recording barely moves it; in log10 power every bin's level error counts alike (it is an L1
form of the LSD the evaluation reports). The floor (-100 dB re a full-scale sine) keeps digital silence from
dominating.
"""

from __future__ import annotations

import torch

from apollo.models.discriminator import DEFAULT_WINDOWS
from apollo.params import LossWeights

Outputs = list[tuple[torch.Tensor, list[torch.Tensor]]]  # per discriminator: (logits, hidden maps)


def discriminator_loss(real: Outputs, fake: Outputs) -> torch.Tensor:
    return sum(((r - 1).square().mean() + f.square().mean()) for (r, _), (f, _) in zip(real, fake))


def generator_adversarial_loss(fake: Outputs) -> torch.Tensor:
    return sum((f - 1).square().mean() for f, _ in fake)


def feature_matching_loss(real: Outputs, fake: Outputs, eps: float = 1e-8) -> torch.Tensor:
    total = 0.0
    for (_, real_maps), (_, fake_maps) in zip(real, fake):
        terms = [
            (r.detach() - f).abs().mean() / (r.detach().abs().mean() + eps) for r, f in zip(real_maps, fake_maps)
        ]
        total = total + sum(terms) / len(terms)
    return total


LOG_FLOOR = 1e-10  # power floor of the log-magnitude loss: -100 dB re full scale


def _magnitudes(y: torch.Tensor, w: int) -> torch.Tensor:
    window = torch.hann_window(w, device=y.device, dtype=y.dtype)
    return torch.stft(y, w, w // 4, window=window, return_complex=True).abs()


def spectral_losses(
    target: torch.Tensor, estimate: torch.Tensor, windows: tuple[int, ...] = DEFAULT_WINDOWS, eps: float = 1e-8,
    floor: float = LOG_FLOOR, log: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(multi-resolution STFT loss, log-magnitude loss) of target, estimate (..., L), from one STFT per
    resolution; the log term is 0 when `log` is False."""
    y, y_hat = target.reshape(-1, target.shape[-1]), estimate.reshape(-1, estimate.shape[-1])
    linear = logarithmic = 0.0
    for w in windows:
        mag, mag_hat = _magnitudes(y, w), _magnitudes(y_hat, w)
        linear = linear + (mag - mag_hat).abs().mean() / (mag.mean() + eps)
        if log:
            scale = (w / 2) ** 2 / 4  # |STFT|^2 / scale: a full-scale sine peaks near 1 at every window size
            logarithmic = logarithmic + (torch.log10(mag.square() / scale + floor)
                                         - torch.log10(mag_hat.square() / scale + floor)).abs().mean()  # fmt: skip
    return linear, torch.as_tensor(logarithmic, device=y.device, dtype=y.dtype)


def multi_resolution_stft_loss(
    target: torch.Tensor, estimate: torch.Tensor, windows: tuple[int, ...] = DEFAULT_WINDOWS, eps: float = 1e-8
) -> torch.Tensor:
    """target, estimate: (..., L)."""
    return spectral_losses(target, estimate, windows, eps, log=False)[0]


def log_magnitude_loss(
    target: torch.Tensor, estimate: torch.Tensor, windows: tuple[int, ...] = DEFAULT_WINDOWS, floor: float = LOG_FLOOR
) -> torch.Tensor:
    """target, estimate: (..., L). Mean absolute log10-power difference, summed over resolutions."""
    return spectral_losses(target, estimate, windows, floor=floor)[1]


def generator_loss(
    target: torch.Tensor,
    estimate: torch.Tensor,
    real: Outputs,
    fake: Outputs,
    weights: LossWeights,
    windows: tuple[int, ...] = DEFAULT_WINDOWS,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    parts = {
        "adversarial": generator_adversarial_loss(fake),
        "feature_matching": feature_matching_loss(real, fake),
    }
    parts["stft"], parts["log_mag"] = spectral_losses(target, estimate, windows, log=weights.delta > 0)
    total = (weights.alpha * parts["adversarial"] + weights.beta * parts["feature_matching"]
             + weights.gamma * parts["stft"] + weights.delta * parts["log_mag"])  # fmt: skip
    return total, parts
