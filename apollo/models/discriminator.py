"""Multi-resolution STFT discriminators (paper Table I).

One discriminator per STFT window. Input: the signal normalised to unit mean
power (so the critic judges spectral shape, not loudness), its STFT (Hann
window, hop = window/4) as real and imaginary channels. Six spectral-norm 3x3
Conv2d layers with LeakyReLU(0.2), channels doubling from 8, stride (2, 2) on
layers 2, 4 and 6, then a 3x3 Conv2d to one logit channel.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

DEFAULT_WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)


def power_normalise(audio: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(B, L) -> (B, L) scaled to unit mean power."""
    return audio * torch.rsqrt(audio.square().mean(-1, keepdim=True) + eps)


class STFTDiscriminator(nn.Module):
    def __init__(self, *, window: int, channels: int = 8, layers: int = 6, slope: float = 0.2):
        super().__init__()
        self.win, self.hop, self.slope = window, window // 4, slope
        self.register_buffer("window", torch.hann_window(window), persistent=False)
        convs, c_in = [], 2
        for i in range(layers):
            c_out = channels * 2**i
            stride = 2 if i % 2 == 1 else 1
            convs.append(spectral_norm(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)))
            c_in = c_out
        self.convs = nn.ModuleList(convs)
        self.logits = nn.Conv2d(c_in, 1, 3, padding=1)
        # the (B, 2, F, T) input is a permuted view, channels innermost in memory: weights laid out the same
        # way spare the convolutions a reorder each call (a quarter of the discriminator's CPU time)
        self.to(memory_format=torch.channels_last)

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        # audio: (B, L) -> logits (B, 1, F', T'), hidden maps [(B, C_i, F_i, T_i)] * layers
        spec = torch.stft(power_normalise(audio), self.win, self.hop, window=self.window, return_complex=True)
        x = torch.view_as_real(spec).permute(0, 3, 1, 2)  # (B, 2, F, T)
        hidden = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.slope)
            hidden.append(x)
        return self.logits(x), hidden


class MultiResolutionDiscriminator(nn.Module):
    """All STFT discriminators; channels of (B, C, L) audio are judged independently."""

    def __init__(self, *, windows: tuple[int, ...] = DEFAULT_WINDOWS, channels: int = 8):
        super().__init__()
        self.discriminators = nn.ModuleList(STFTDiscriminator(window=w, channels=channels) for w in windows)

    def forward(self, audio: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        flat = audio.reshape(-1, audio.shape[-1])
        return [d(flat) for d in self.discriminators]
