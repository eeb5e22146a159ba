"""GAN and reconstruction losses of the paper (eqs. 3-7).

Notation: D_k is the k-th discriminator, y the target, y_hat the generator's
output, f_k^l the l-th hidden map of D_k. Sums run over discriminators (and
STFT resolutions); expectations are means over every element.

* discriminator (LSGAN):  sum_k  E[(D_k(y) - 1)^2] + E[D_k(y_hat)^2]
* generator (LSGAN):      sum_k  E[(D_k(y_hat) - 1)^2]
* feature matching:       sum_k  mean_l  E|f_k^l(y) - f_k^l(y_hat)| / E|f_k^l(y)|   (targets detached)
* multi-resolution STFT:  sum_r  E| |STFT_r(y)| - |STFT_r(y_hat)| | / E|STFT_r(y)|
* generator total:        alpha * adversarial + beta * feature matching + gamma * STFT
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


def multi_resolution_stft_loss(
    target: torch.Tensor, estimate: torch.Tensor, windows: tuple[int, ...] = DEFAULT_WINDOWS, eps: float = 1e-8
) -> torch.Tensor:
    """target, estimate: (..., L)."""
    y, y_hat = target.reshape(-1, target.shape[-1]), estimate.reshape(-1, estimate.shape[-1])
    total = 0.0
    for w in windows:
        window = torch.hann_window(w, device=y.device, dtype=y.dtype)
        mag = torch.stft(y, w, w // 4, window=window, return_complex=True).abs()
        mag_hat = torch.stft(y_hat, w, w // 4, window=window, return_complex=True).abs()
        total = total + (mag - mag_hat).abs().mean() / (mag.mean() + eps)
    return total


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
        "stft": multi_resolution_stft_loss(target, estimate, windows),
    }
    total = weights.alpha * parts["adversarial"] + weights.beta * parts["feature_matching"] + weights.gamma * parts["stft"]
    return total, parts
