"""The Apollo generator (Li & Luo, ICASSP 2025), vectorised and tiled.

Same computation as the published model (see ``reference.py`` for the
module-by-module version) with a layout chosen for speed:

* the activation lives as ``(bands, batch, frames, N)``: every 1x1 convolution
  is one matmul on the last dim, the TCN's tiles over bands are contiguous
  slices, and the band RoFormer's tiles over frames are a small copy each;
* bands of equal width are stacked (79 x 5 bins and 1 x 47 at the defaults), so
  the per-band bottleneck and heads are one einsum per run of equal widths;
* RMSNorm weights are folded into the projection that follows them at run time
  (``W @ (g * x) == (W * g) @ x``), keeping the published parameterisation;
* with gradients off, element-wise work is done in place, and both sub-blocks
  run in tiles (the RoFormer is independent per frame, the TCN per band), so
  every temporary is small and memory grows only with the activation itself.

``causal=True`` pads the TCN on the left only; the band RoFormer is per frame
already. Streaming over such a model lives in ``streaming.py``.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn
from torch.nn import functional as F

from apollo.params import ApolloConfig

EPS = torch.finfo(torch.float32).eps
NORM_EPS = 1e-5


def rms_normalise(x: torch.Tensor, count: int | None = None) -> torch.Tensor:
    """x * rsqrt(mean(x^2) + eps) over the last dim, in float32 (weight folded elsewhere)."""
    xf = x.float()
    ms = xf.square().sum(-1, keepdim=True) / (count or x.shape[-1])
    return (xf * torch.rsqrt(ms + NORM_EPS)).to(x.dtype)


def _silu(x: torch.Tensor) -> torch.Tensor:
    return F.silu(x, inplace=not torch.is_grad_enabled())


def _uniform(shape: tuple[int, ...], fan_in: int) -> nn.Parameter:
    # PyTorch's Conv1d default init, so training starts where the published model does
    bound = 1.0 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


def rotary_tables(head_dim: int, positions: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin) of p * theta_i, theta_i = 10000^(-2i/d), each repeated for its interleaved pair: (positions, d)."""
    theta = 10000.0 ** (-torch.arange(0, head_dim, 2).double() / head_dim)
    angles = torch.arange(positions).double()[:, None] * theta[None]
    return angles.cos().repeat_interleave(2, 1).float(), angles.sin().repeat_interleave(2, 1).float()


def width_runs(widths: tuple[int, ...]) -> list[tuple[int, int]]:
    """Runs of consecutive equal band widths: [(width, count), ...]."""
    return [(w, len(list(g))) for w, g in itertools.groupby(widths)]


class BandEncoder(nn.Module):
    """Gain-shape features -> RMSNorm -> per-band 1x1 conv, one einsum per run of equal widths."""

    def __init__(self, widths: tuple[int, ...], dim: int):
        super().__init__()
        self.runs = width_runs(widths)
        self.norm = nn.ParameterList(nn.Parameter(torch.ones(n, 2 * m + 1)) for m, n in self.runs)
        self.weight = nn.ParameterList(_uniform((n, dim, 2 * m + 1), 2 * m + 1) for m, n in self.runs)
        self.bias = nn.ParameterList(_uniform((n, dim), 2 * m + 1) for m, n in self.runs)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        # spec: (B, F, T) complex -> (K, B, T, N)
        out, start = [], 0
        for r, (m, n) in enumerate(self.runs):
            band = spec[:, start : start + n * m].unflatten(1, (n, m))  # (B, n, m, T)
            start += n * m
            ri = torch.view_as_real(band)  # (B, n, m, T, 2)
            power = (ri.square().sum((2, 4)) + EPS).sqrt()  # (B, n, T)
            shape = ri / power[:, :, None, :, None]
            feat = torch.cat(
                [shape[..., 0].transpose(2, 3), shape[..., 1].transpose(2, 3), power.log()[..., None]], dim=-1
            )  # (B, n, T, 2m+1)
            weight = self.weight[r] * self.norm[r][:, None, :]
            out.append(torch.einsum("bktc,knc->kbtn", rms_normalise(feat), weight) + self.bias[r][:, None, None])
        return torch.cat(out, dim=0)


class BandDecoder(nn.Module):
    """Per band RMSNorm -> 1x1 conv to 4m -> GLU -> (real, imag) of m bins."""

    def __init__(self, widths: tuple[int, ...], dim: int):
        super().__init__()
        self.runs = width_runs(widths)
        self.norm = nn.ParameterList(nn.Parameter(torch.ones(n, dim)) for m, n in self.runs)
        self.weight = nn.ParameterList(_uniform((n, 4 * m, dim), dim) for m, n in self.runs)
        self.bias = nn.ParameterList(_uniform((n, 4 * m), dim) for m, n in self.runs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (K, B, T, N) -> (B, F, T) complex
        h = rms_normalise(x)
        out, start = [], 0
        for r, (m, n) in enumerate(self.runs):
            weight = self.weight[r] * self.norm[r][:, None, :]
            y = torch.einsum("kbtn,kon->bkto", h[start : start + n], weight) + self.bias[r][:, None]
            start += n
            y = F.glu(y, dim=-1).unflatten(-1, (2, m))  # (B, n, T, 2, m)
            out.append(torch.complex(y[..., 0, :], y[..., 1, :]).transpose(2, 3).flatten(1, 2))
        return torch.cat(out, dim=1)


class BandRoFormer(nn.Module):
    """Residual attention + gated MLP across the K bands of each frame."""

    def __init__(self, dim: int, heads: int, max_positions: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.Parameter(torch.ones(dim))
        self.qkv = _uniform((3 * dim, dim), dim)  # rows grouped by head: [q k v] of d each
        self.out = _uniform((dim, dim), dim)
        self.mlp_norm = nn.Parameter(torch.ones(dim))
        self.mlp_in = _uniform((8 * dim, dim), dim)  # [gate (4N), z (4N)]
        self.mlp_out = _uniform((dim, 4 * dim), 4 * dim)
        cos, sin = rotary_tables(dim // heads, max_positions)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def rotate(self, x: torch.Tensor) -> torch.Tensor:
        # x: (R, H, K, d); interleaved pairs (x0, x1) -> (x0 cos - x1 sin, x1 cos + x0 sin)
        k = x.shape[2]
        pairs = x.unflatten(-1, (-1, 2))
        swapped = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return torch.addcmul(x * self.cos[:k], swapped, self.sin[:k])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (R, K, N) -- R independent frames, K bands
        r, k, n = x.shape
        h = self.heads
        qkv = F.linear(rms_normalise(x), self.qkv * self.norm)  # (R, K, 3N)
        qkv = qkv.view(r, k, h, 3, n // h).permute(3, 0, 2, 1, 4)  # (3, R, H, K, d)
        att = F.scaled_dot_product_attention(self.rotate(qkv[0]), self.rotate(qkv[1]), qkv[2])
        att = att.transpose(1, 2).reshape(r, k, n)
        y = torch.addmm(x.reshape(r * k, n), att.reshape(r * k, n), self.out.t())
        g = _silu(F.linear(rms_normalise(y), self.mlp_in * self.mlp_norm))  # (R*K, 8N)
        gate, z = g[:, : 4 * n], g[:, 4 * n :]
        # published quirk: the gate passes through SiLU twice, z once
        m = F.silu(gate) * z if torch.is_grad_enabled() else F.silu(gate, inplace=True).mul_(z)
        return torch.addmm(y, m, self.mlp_out.t()).view(r, k, n)


def depthwise_time_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, t0: int, t1: int, left: int):
    """Depthwise conv along time of x (S, T, N), output frames [t0, t1), zeros outside [0, T).

    Channels-last as kernel shifted multiply-adds: no transposes, no padded copy,
    and a tile reads its halo straight from x.
    """
    s, t, n = x.shape
    y = bias.expand(s, t1 - t0, n).clone()
    for j in range(weight.shape[1]):
        o = j - left
        a, c = max(t0 + o, 0), min(t1 + o, t)
        if a < c:
            y[:, a - o - t0 : c - o - t0].addcmul_(x[:, a:c], weight[:, j])
    return y


def _addmm_into(dst: torch.Tensor, inp: torch.Tensor, a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor) -> None:
    """dst = inp + a @ b + bias for 2-D dst, written straight into dst when autograd is off."""
    if torch.is_grad_enabled():
        dst.copy_(torch.addmm(inp, a, b) + bias)
    elif torch.is_autocast_enabled(dst.device.type):
        # autocast skips out= calls, so addmm(out=dst) would meet a (already in the
        # autocast dtype) and b (float32) uncast and fail. Let autocast run the plain
        # addmm instead: the same casts and roundings as the autograd path above, so
        # both paths agree exactly; only a tile-sized temporary is added.
        dst.copy_(torch.addmm(inp, a, b)).add_(bias)
    else:
        torch.addmm(inp, a, b, out=dst).add_(bias)


class TCNBlock(nn.Module):
    """x + pw_down(SiLU(pw_up(RMSNorm(depthwise_conv_time(x)))))."""

    def __init__(self, dim: int, kernel: int, causal: bool):
        super().__init__()
        self.kernel, self.causal = kernel, causal
        self.dw_weight = _uniform((dim, kernel), kernel)
        self.dw_bias = _uniform((dim,), kernel)
        self.norm = nn.Parameter(torch.ones(dim))
        self.up_weight = _uniform((4 * dim, dim), dim)
        self.up_bias = _uniform((4 * dim,), dim)
        self.down_weight = _uniform((dim, 4 * dim), 4 * dim)
        self.down_bias = _uniform((dim,), 4 * dim)

    @property
    def left(self) -> int:
        """Past frames the depthwise conv reads (the rest of kernel-1 is future)."""
        return self.kernel - 1 if self.causal else (self.kernel - 1) // 2

    def forward_tile(self, x: torch.Tensor, out: torch.Tensor, t0: int, t1: int, offset: int = 0) -> None:
        """out[:, t0-offset : t1-offset] = block(x)[:, t0:t1] for x (S, T, N).

        offset > 0 means x starts with `offset` frames of streamed past context."""
        n = x.shape[-1]
        y = depthwise_time_conv(x, self.dw_weight, self.dw_bias, t0, t1, self.left)
        hidden = torch.addmm(self.up_bias, rms_normalise(y).view(-1, n), (self.up_weight * self.norm).t())
        dst = out[:, t0 - offset : t1 - offset].view(-1, n)
        _addmm_into(dst, x[:, t0:t1].reshape(-1, n), _silu(hidden), self.down_weight.t(), self.down_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (S, T, N) -- S independent sequences
        out = x.new_empty(x.shape)
        self.forward_tile(x, out, 0, x.shape[1])
        return out


def frame_level(spec: torch.Tensor) -> torch.Tensor:
    """(B, F, T) complex -> (B, 1, T): RMS bin magnitude of each frame (per frame, so chunking and streaming
    see the same value)."""
    return (torch.view_as_real(spec).square().sum(-1).mean(1, keepdim=True) + EPS).sqrt()


def find_cutoff(spec: torch.Tensor, sr: int, edge_frames: int = 0) -> torch.Tensor:
    """(B, F, T) complex -> (B,) long: how many bins lie below the codec cutoff that each row's long-term
    spectrum shows (F when it shows none: nothing was cut). The first and last `edge_frames` frames are
    left out when more remain: a centred STFT's window reaches into its padding there, and where a crop
    cuts into the music the kink at the reflection is broadband, tens of dB over the codec's empty band
    (with them in, 13 % of the 0.5 s training crops showed no cut, against 1 % without; docs/quality.md)."""
    from apollo.audio.spectrum import codec_cutoff, to_db

    n_bins, frames = spec.shape[1:]
    if frames > 2 * edge_frames:
        spec = spec[..., edge_frames : frames - edge_frames]
    level = to_db(spec.detach().abs().square().mean(-1).float().cpu().numpy())  # (B, F), relative dB suffice
    cuts = [codec_cutoff(row, sr) for row in level]
    hz_per_bin = sr / 2 / (n_bins - 1)
    bins = [n_bins if cut is None else int(cut / hz_per_bin) for cut in cuts]
    return torch.tensor(bins, device=spec.device)


def reference_bins(config: ApolloConfig, cutoff: torch.Tensor) -> torch.Tensor:
    """(B,) cutoff bins -> (B,): how many bins under each cutoff an anchored model reads the level from
    (`ApolloConfig.cutoff_reference_hz` + `cutoff_reference_fraction` x the cutoff), at least one."""
    hz, fraction = config.cutoff_reference_hz, config.cutoff_reference_fraction
    return (hz / config.bin_hz + fraction * cutoff.float()).round().long().clamp_min(1)


def passband_top_level(spec: torch.Tensor, cutoff: torch.Tensor, width: torch.Tensor | int) -> torch.Tensor:
    """(B, F, T) complex, (B,) bins, width: (B,) or one for all -> (B, 1, T): each frame's RMS bin magnitude
    over the `width` bins just below the cutoff: how bright the music is where the codec stopped."""
    f = torch.arange(spec.shape[1], device=spec.device)
    width = torch.as_tensor(width, device=spec.device).reshape(-1, 1)
    band = ((f >= cutoff[:, None] - width) & (f < cutoff[:, None])).to(spec.real.dtype)  # (B, F)
    power = torch.einsum("bft,bf->bt", torch.view_as_real(spec).square().sum(-1), band)
    return (power / band.sum(1, keepdim=True).clamp_min(1) + EPS).sqrt()[:, None]


# the hole fill's phases repeat after this many frames (10 s at the default hop): far apart, and inaudible
# 60 dB under the music
HOLE_PHASE_FRAMES = 1009


def hole_phases(n_bins: int) -> torch.Tensor:
    """(HOLE_PHASE_FRAMES, F) unit complex: fixed random phases, so runs, chunks and streams fill alike."""
    angle = torch.rand(HOLE_PHASE_FRAMES, n_bins, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return torch.polar(torch.ones_like(angle), 2 * math.pi * angle).to(torch.complex64)


def fill_holes(
    spec: torch.Tensor, cutoff: torch.Tensor, phases: torch.Tensor, gate_db: float, level_db: float, first_frame: int = 0
) -> torch.Tensor:
    """(B, F, T) complex, (B,) bins -> (B, F, T): below each cutoff, bins more than -gate_db dB under their
    frame's mean passband power become noise at level_db dB re that power. An MP3 encoder zeroes whole
    scale-factor bands it cannot afford; the music there was quieter than its neighbours, not silent, and a
    bin left 100 dB down dominates any log-spectral error. An item with no cutoff (F) is left as it is.
    first_frame: the absolute index of frame 0, so a chunk or a stream draws the whole file's phases."""
    n_bins, frames = spec.shape[1:]
    below = torch.arange(n_bins, device=spec.device)[None, :, None] < cutoff[:, None, None]  # (B, F, 1)
    below = below & (cutoff < n_bins)[:, None, None]
    power = torch.view_as_real(spec).square().sum(-1)  # (B, F, T)
    mean = (power * below).sum(1, keepdim=True) / below.sum(1, keepdim=True).clamp_min(1)  # (B, 1, T)
    hole = below & (power < mean * 10 ** (gate_db / 10))
    index = (first_frame + torch.arange(frames, device=spec.device)) % phases.shape[0]
    noise = (mean * 10 ** (level_db / 10)).sqrt() * phases[index].T.to(spec.dtype)  # (B, F, T)
    return torch.where(hole, noise, spec)


TILT_STEPS_PER_OCTAVE, TILT_OCTAVES = 4, 4
# the tilt is exp(TILT_SCALE * parameter): Adam moves a parameter about lr a step, and the band's level
# must be able to move tens of dB within a CPU budget of a few hundred steps
TILT_SCALE = 10.0


def tilt_index(cutoff: torch.Tensor, n_bins: int) -> torch.Tensor:
    """(B,) bins below the cutoff -> (B, F) long: each bin's quarter octave above the cutoff (0 below it and in
    the first; the last step holds everything from TILT_OCTAVES up)."""
    f = torch.arange(n_bins, device=cutoff.device, dtype=torch.float32) + 0.5
    octaves = torch.log2(f[None] / cutoff[:, None].clamp_min(1).float())
    return (octaves * TILT_STEPS_PER_OCTAVE).floor().clamp(0, TILT_STEPS_PER_OCTAVE * TILT_OCTAVES - 1).long()


class Apollo(nn.Module):
    """Apollo generator: (batch, channels, samples) -> same, channels restored independently."""

    def __init__(self, config: ApolloConfig):
        super().__init__()
        self.config = config
        n = config.feature_dim
        if n % config.heads or (n // config.heads) % 2:
            raise ValueError("feature_dim must split into heads of even size")
        self.encoder = BandEncoder(config.widths, n)
        self.band_nets = nn.ModuleList(BandRoFormer(n, config.heads, config.max_positions) for _ in range(config.layers))
        self.seq_nets = nn.ModuleList(
            nn.ModuleList(TCNBlock(n, config.tcn_kernel, config.causal) for _ in range(config.tcn_blocks))
            for _ in range(config.layers)
        )
        self.decoder = BandDecoder(config.widths, n)
        if config.anchored:
            # An anchored model's passband is the input's already. Its band starts as a flat continuation of
            # the level under the cutoff: heads of about unit RMS (-2.6 dB measured; drawn, the GLU value half x 2.4:
            # its variance is 1/3 on unit-RMS features, the gate's sigmoid squared averages 0.27). A band that
            # starts at zero gets little gradient (|X| and log|X|^2 are flat at X = 0; it was still 18 dB too
            # quiet after 200 steps), and one that starts quieter than the music stays so: the L1 terms favour
            # a quiet band whose fine structure is not the target's (see apollo.losses).
            with torch.no_grad():
                for (m, _), weight, bias in zip(self.decoder.runs, self.decoder.weight, self.decoder.bias):
                    weight[:, : 2 * m].mul_(2.4)
                    bias[:, : 2 * m].mul_(2.4)
        elif config.residual:
            with torch.no_grad():  # GLU value half (first 2m outputs) zero: the model starts as the identity
                for (m, _), weight, bias in zip(self.decoder.runs, self.decoder.weight, self.decoder.bias):
                    weight[:, : 2 * m].zero_()
                    bias[:, : 2 * m].zero_()
        if config.band_tilt and config.anchored:  # starts flat: the heads' continuation as it is
            self.tilt = nn.Parameter(torch.zeros(TILT_STEPS_PER_OCTAVE * TILT_OCTAVES))
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        if config.hole_gate_db is not None:
            self.register_buffer("hole_phases", hole_phases(config.n_fft // 2 + 1), persistent=False)
        # rows per tile of the element-wise-heavy sub-blocks (frames*bands for the
        # RoFormer, frames*sequences for the TCN); big enough for efficient matmuls,
        # small enough that the 4N/8N hidden activations stay in cache-sized chunks
        self.tile_rows = 4096

    def stft(self, audio: torch.Tensor) -> torch.Tensor:
        return torch.stft(audio, self.config.n_fft, self.config.hop, window=self.window, return_complex=True)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return torch.istft(spec, self.config.n_fft, self.config.hop, window=self.window, length=length)

    @property
    def anchored(self) -> bool:
        """Whether the model generates only above the codec cutoff (`ApolloConfig.anchored`)."""
        return self.config.anchored

    def cutoff_bins(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, L) audio or (B, C, F, T) its STFT -> (B,): the STFT bins below each item's codec cutoff,
        its channels together (F when none shows)."""
        spec = x if x.is_complex() else self.stft(x.reshape(-1, x.shape[-1])).unflatten(0, x.shape[:2])
        edge = math.ceil(self.config.n_fft // 2 / self.config.hop)  # frames whose window reaches the padding
        return find_cutoff(spec.abs().square().mean(1).sqrt(), self.config.sr, edge)  # channels' power averaged

    def forward(
        self, audio: torch.Tensor, cutoff: torch.Tensor | int | None = None, keep_passband: bool = False, first_frame: int = 0
    ) -> torch.Tensor:
        """audio (B, C, L) -> (B, C, L). cutoff: per item (B,) or for all, the STFT bins below the codec
        cutoff (None: found in each item's input, its channels together). Below it the output is the input's
        own bins when `keep_passband` or the model is anchored (holes filled: `ApolloConfig.hole_gate_db`).
        first_frame: the STFT frame of a longer signal that `audio` starts at (chunked restoration)."""
        # B batch, C channels, L samples, F bins, T frames
        b, c, length = audio.shape
        spec = self.stft(audio.reshape(b * c, length))  # (B*C, F, T)
        if cutoff is None and (keep_passband or self.anchored):
            cutoff = self.cutoff_bins(spec.view(b, c, *spec.shape[1:]))
        if cutoff is not None:
            cutoff = torch.as_tensor(cutoff, device=spec.device).expand(b).repeat_interleave(c)  # (B*C,)
        out = self.restore_spectrum(spec, cutoff=cutoff, keep_passband=keep_passband, first_frame=first_frame)
        return self.istft(out, length).view(b, c, length)

    def restore_spectrum(
        self, spec: torch.Tensor, cache: list[torch.Tensor] | None = None, cutoff: torch.Tensor | None = None,
        keep_passband: bool = False, first_frame: int = 0,
    ) -> torch.Tensor:
        """(B, F, T) complex -> (B, F, T) complex; cache as in `blocks` (streaming only); cutoff (B,) bins,
        needed when the model is anchored or `keep_passband`; first_frame as in `forward`."""
        out = self.decoder(self.blocks(self.encoder(spec), cache))
        keep = keep_passband or self.anchored
        if keep and cutoff is None:
            raise ValueError("keeping the passband needs the codec cutoff")
        if keep and self.config.hole_gate_db is not None:
            # filled before the anchor reads it: in a frame whose bands under the cutoff the encoder zeroed
            # (a fifth of the frames of real mixtures; their band was still ~57 dB under the frame's mean), an
            # anchor read from the zeros made the band 25 dB too quiet on average (docs/quality.md, round 7)
            spec = fill_holes(spec, cutoff, self.hole_phases, self.config.hole_gate_db, self.config.hole_level_db,
                              first_frame)  # fmt: skip
        if self.anchored:
            out = out * passband_top_level(spec, cutoff, reference_bins(self.config, cutoff))
            if hasattr(self, "tilt"):
                out = out * torch.exp(TILT_SCALE * self.tilt)[tilt_index(cutoff, spec.shape[1])][..., None]
        elif self.config.relative_output:
            out = out * frame_level(spec)
        if self.config.residual:
            out = out + spec
        if keep:
            below = torch.arange(spec.shape[1], device=spec.device)[None, :, None] < cutoff[:, None, None]
            out = torch.where(below, spec, out)
        return out

    def blocks(self, x: torch.Tensor, cache: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Band-sequence blocks. x: (K, B, T, N).

        cache (streaming only): per TCN block, its last kernel-1 input frames (K*B, kernel-1, N),
        read as past context and updated in place; None for offline processing."""
        k, b, t, n = x.shape
        spare = None  # with autograd off, the TCN ping-pongs between two activation buffers
        for i, (band_net, seq_net) in enumerate(zip(self.band_nets, self.seq_nets)):
            x = self._band_tiles(band_net, x)
            for j, block in enumerate(seq_net):
                out = spare if spare is not None else x.new_empty(x.shape)
                seqs = x.view(k * b, t, n)
                offset = 0
                if cache is not None:
                    index = i * len(seq_net) + j
                    seqs = torch.cat([cache[index], seqs], dim=1)
                    offset = cache[index].shape[1]
                    cache[index] = seqs[:, -offset:].clone()
                self._seq_tiles(block, seqs, out.view(k * b, t, n), offset)
                spare = None if torch.is_grad_enabled() else x
                x = out
        return x

    def _band_tiles(self, net: BandRoFormer, x: torch.Tensor) -> torch.Tensor:
        # frames are independent: tile over frames, each tile a (B*frames, K, N) batch
        k, b, t, n = x.shape
        out = x.new_empty(x.shape) if torch.is_grad_enabled() else x  # tiles have no halo: in place
        step = max(1, self.tile_rows // (k * b))
        for t0 in range(0, t, step):
            tile = x[:, :, t0 : t0 + step].permute(1, 2, 0, 3).reshape(-1, k, n)
            out[:, :, t0 : t0 + step] = net(tile).view(b, -1, k, n).permute(2, 0, 1, 3)
        return out

    def _seq_tiles(self, block: TCNBlock, x: torch.Tensor, out: torch.Tensor, offset: int) -> None:
        # sequences are independent and the conv reads its halo from x: tile over
        # (sequences, frames) so each tile holds about tile_rows rows
        s, t = out.shape[:2]
        frames = min(t, self.tile_rows)
        seqs = max(1, self.tile_rows // frames)
        for s0 in range(0, s, seqs):
            for t0 in range(0, t, frames):
                t1 = min(t0 + frames, t)
                block.forward_tile(x[s0 : s0 + seqs], out[s0 : s0 + seqs], t0 + offset, t1 + offset, offset)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
