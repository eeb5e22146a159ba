"""A straightforward Apollo generator in the published module layout.

This is the *oracle*: per-band modules in Python loops, one Conv1d per 1x1
projection, exactly the computation of the published implementation (Li & Luo's code;
README "The model": its numeric fixture, tests/fixtures/apollo_tiny_reference.npz,
is reproduced) and with the published ``state_dict`` names, so a published checkpoint loads into it
with ``load_state_dict(strict=True)``. It shares no code with the fast model
beyond the band geometry, so the two check each other. It is slow on purpose (it is written for
obviousness, not speed) and serves as the test oracle and the benchmark
baseline for :class:`apollo.models.apollo.Apollo`.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from apollo.models.bands import band_widths, stft_params

EPS = torch.finfo(torch.float32).eps


class ChannelRMSNorm(nn.Module):
    """RMSNorm over dim 1 of (batch, channels, time), in float32, weight only."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(1, keepdim=True) + self.eps)
        return (y * self.weight[:, None]).to(x.dtype)


class BandRoFormer(nn.Module):
    """Pre-norm transformer layer across bands: (batch, N, bands) -> same."""

    def __init__(self, dim: int, heads: int = 8, max_positions: int = 100):
        super().__init__()
        self.heads = heads
        head_dim = dim // heads
        self.input_norm = ChannelRMSNorm(dim)
        self.weight = nn.Conv1d(dim, 3 * dim, 1, bias=False)
        self.output = nn.Conv1d(dim, dim, 1, bias=False)
        self.MLP = nn.Sequential(ChannelRMSNorm(dim), nn.Conv1d(dim, 8 * dim, 1, bias=False), nn.SiLU())
        self.MLP_output = nn.Conv1d(4 * dim, dim, 1, bias=False)
        theta = 10000.0 ** (-torch.arange(0, head_dim, 2).float() / head_dim)
        angles = torch.arange(max_positions).float()[:, None] * theta[None]
        self.register_buffer("cos_freq", angles.cos().repeat_interleave(2, dim=1))
        self.register_buffer("sin_freq", angles.sin().repeat_interleave(2, dim=1))

    def rotate(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, heads, positions, d); interleaved pairs (x0, x1) -> (-x1, x0)
        pos = x.shape[2]
        pairs = x.unflatten(-1, (-1, 2))
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return x * self.cos_freq[:pos] + rotated * self.sin_freq[:pos]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, dim, bands = x.shape
        qkv = self.weight(self.input_norm(x))  # (batch, 3N, bands), grouped by head
        qkv = qkv.view(batch, self.heads, 3, dim // self.heads, bands).transpose(-1, -2)
        q, k, v = self.rotate(qkv[:, :, 0]), self.rotate(qkv[:, :, 1]), qkv[:, :, 2]
        scores = q @ k.transpose(-1, -2) / math.sqrt(dim // self.heads)
        att = scores.softmax(-1) @ v  # (batch, heads, bands, d)
        att = att.transpose(-1, -2).reshape(batch, dim, bands)
        y = x + self.output(att)
        gate, z = self.MLP(y).chunk(2, dim=1)
        return y + self.MLP_output(F.silu(gate) * z)


class TCNBlock(nn.Module):
    def __init__(self, dim: int, kernel: int = 7):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim),
            ChannelRMSNorm(dim),
            nn.Conv1d(dim, 4 * dim, 1),
            nn.SiLU(),
            nn.Conv1d(4 * dim, dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


class TCN(nn.Module):
    def __init__(self, dim: int, depth: int = 3):
        super().__init__()
        self.blocks = nn.Sequential(*[TCNBlock(dim) for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class BandSequenceBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.band_net = BandRoFormer(dim)
        self.seq_net = TCN(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B', bands, N, T)
        b, k, n, t = x.shape
        x = x.permute(0, 3, 2, 1).reshape(b * t, n, k)
        x = self.band_net(x).view(b, t, n, k)
        x = x.permute(0, 3, 2, 1).reshape(b * k, n, t)
        return self.seq_net(x).view(b, k, n, t)


class ReferenceApollo(nn.Module):
    """The published generator, module for module (see module docstring)."""

    def __init__(self, *, sr: int = 44100, win: int = 20, feature_dim: int = 256, layer: int = 6):
        super().__init__()
        self.n_fft, self.hop = stft_params(sr, win)
        self.widths = band_widths(self.n_fft)
        self.BN = nn.ModuleList(
            nn.Sequential(ChannelRMSNorm(2 * m + 1), nn.Conv1d(2 * m + 1, feature_dim, 1)) for m in self.widths
        )
        self.net = nn.Sequential(*[BandSequenceBlock(feature_dim) for _ in range(layer)])
        self.output = nn.ModuleList(
            nn.Sequential(ChannelRMSNorm(feature_dim), nn.Conv1d(feature_dim, 4 * m, 1), nn.GLU(dim=1))
            for m in self.widths
        )
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        b, c, length = audio.shape
        x = audio.reshape(b * c, length)
        spec = torch.stft(x, self.n_fft, self.hop, window=self.window, return_complex=True)
        feats, start = [], 0
        for k, m in enumerate(self.widths):
            band = spec[:, start : start + m]
            start += m
            power = (band.abs().pow(2).sum(1, keepdim=True) + EPS).sqrt()
            band = band / power
            feat = torch.cat([band.real, band.imag, power.log()], dim=1)
            feats.append(self.BN[k](feat))
        h = self.net(torch.stack(feats, dim=1))
        bands = []
        for k, m in enumerate(self.widths):
            out = self.output[k](h[:, k]).view(b * c, 2, m, -1)
            bands.append(torch.complex(out[:, 0], out[:, 1]))
        y = torch.istft(torch.cat(bands, dim=1), self.n_fft, self.hop, window=self.window, length=length)
        return y.view(b, c, length)
