"""Block-in / block-out streaming over a causal Apollo generator.

The offline model frames a centred STFT (reflect padding of n_fft/2 at both
ends), restores each frame with a causal TCN, and overlap-adds. Streaming does
the same incrementally:

* the reflect padding at the start needs the first n_fft/2 + 1 samples, so the
  first output waits for them; the padding at the end is applied by ``flush()``;
* each TCN block keeps its last ``kernel - 1`` input frames as context, so a
  frame is computed exactly once;
* an output sample is final once every frame overlapping it has been added.

Latency: a sample leaves once the frame that starts after it is complete, i.e.
between ``n_fft/2`` and ``n_fft - 1`` samples after it arrives -- at most one
window (882 samples, 20 ms at 44.1 kHz), plus the compute time of a block.
Concatenating everything ``process`` and ``flush`` return equals the offline
``model(audio)`` up to float rounding.
"""

from __future__ import annotations

import torch

from apollo.models.apollo import Apollo


class StreamingApollo:
    def __init__(self, model: Apollo, channels: int, cutoff: int | None = None):
        """cutoff: STFT bins below the stream's codec cutoff; a cutoff-anchored model needs it (a stream
        has no long-term spectrum to find it in)."""
        if not model.config.causal:
            raise ValueError("streaming needs a causal model (ApolloConfig(causal=True))")
        if model.anchored and cutoff is None:
            raise ValueError("a cutoff-anchored model streams with the codec cutoff given (cutoff=bins)")
        self.model = model.eval()
        self.channels = channels
        self.n_fft, self.hop = model.config.n_fft, model.config.hop
        self.pad = self.n_fft // 2
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.cutoff = None if cutoff is None else torch.full((channels,), cutoff, device=self.device)
        self.reset()

    @property
    def latency_samples(self) -> int:
        """Worst-case algorithmic latency in samples (one window minus one sample)."""
        return self.n_fft - 1

    def reset(self) -> None:
        c, n = self.channels, self.model.config.feature_dim
        k = len(self.model.config.widths)
        kernel = self.model.config.tcn_kernel
        blocks = self.model.config.layers * self.model.config.tcn_blocks
        self.cache = [torch.zeros(k * c, kernel - 1, n, device=self.device) for _ in range(blocks)]
        self.head = torch.zeros(c, 0, device=self.device)  # raw samples until the start padding is known
        self.buffer: torch.Tensor | None = None  # padded-signal samples from frame `frames * hop` on
        self.tail = torch.zeros(c, 0, device=self.device)  # last pad+1 raw samples, for the end padding
        self.ola = torch.zeros(c, 0, device=self.device)  # overlap-add sum, from padded position ola_origin on
        self.envelope = torch.zeros(0, device=self.device)  # sum of squared windows at the same positions
        self.ola_origin = 0
        self.frames = 0  # frames computed
        self.received = 0
        self.emitted = 0

    @torch.no_grad()
    def process(self, block: torch.Tensor) -> torch.Tensor:
        """Feed (channels, n) samples; returns the restored samples that became final (channels, m)."""
        if block.dim() != 2 or block.shape[0] != self.channels:
            raise ValueError(f"expected a ({self.channels}, n) block, got {tuple(block.shape)}")
        block = block.to(self.device, torch.float32)
        self.received += block.shape[1]
        self.tail = torch.cat([self.tail, block], 1)[:, -(self.pad + 1) :]
        if self.buffer is None:
            self.head = torch.cat([self.head, block], 1)
            if self.head.shape[1] <= self.pad:
                return self._empty()
            # reflect padding of the centred STFT: x[pad], ..., x[1] before x[0]
            block = torch.cat([self.head[:, 1 : self.pad + 1].flip(1), self.head], 1)
            self.buffer, self.head = block[:, :0], None
        self.buffer = torch.cat([self.buffer, block], 1)
        return self._run(final=False)

    @torch.no_grad()
    def flush(self) -> torch.Tensor:
        """End of stream: apply the end padding, return the remaining samples, and reset."""
        if self.buffer is None:
            if self.received:
                raise ValueError(f"a stream needs more than {self.pad} samples, got {self.received}")
            return self._empty()
        end = self.tail[:, -(self.pad + 1) : -1].flip(1)  # reflect: x[L-2], ..., x[L-pad-1]
        self.buffer = torch.cat([self.buffer, end], 1)
        out = self._run(final=True)
        self.reset()
        return out

    def _empty(self) -> torch.Tensor:
        return torch.zeros(self.channels, 0, device=self.device)

    def _run(self, final: bool) -> torch.Tensor:
        n_fft, hop = self.n_fft, self.hop
        count = (self.buffer.shape[1] - n_fft) // hop + 1 if self.buffer.shape[1] >= n_fft else 0
        if count > 0:
            frames = self.buffer[:, : (count - 1) * hop + n_fft]
            spec = torch.stft(frames, n_fft, hop, window=self.model.window, center=False, return_complex=True)
            spec = self.model.restore_spectrum(spec, self.cache, cutoff=self.cutoff, first_frame=self.frames)
            self._overlap_add(spec)
            self.buffer = self.buffer[:, count * hop :]
            self.frames += count
        # positions before the next frame's start are final; at the end, everything is
        limit = self.received if final else max(0, self.frames * hop - self.pad)
        limit = min(limit, self.received)
        take = limit - self.emitted
        if take <= 0:
            return self._empty()
        start = self.emitted + self.pad - self.ola_origin
        out = self.ola[:, start : start + take] / self.envelope[start : start + take].clamp_min(1e-11)
        self.emitted = limit
        self._drop_final()
        return out

    def _overlap_add(self, spec: torch.Tensor) -> None:
        # spec: (C, F, count) -> windowed frames added at their positions
        window = self.model.window
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=1) * window[:, None]  # (C, n_fft, count)
        count = frames.shape[2]
        first = self.frames * self.hop - self.ola_origin  # offset of the first new frame in self.ola
        need = first + (count - 1) * self.hop + self.n_fft
        if need > self.ola.shape[1]:
            grow = need - self.ola.shape[1]
            self.ola = torch.cat([self.ola, self.ola.new_zeros(self.channels, grow)], 1)
            self.envelope = torch.cat([self.envelope, self.envelope.new_zeros(grow)])
        positions = first + torch.arange(self.n_fft, device=frames.device)[:, None] + self.hop * torch.arange(
            count, device=frames.device
        )
        self.ola.index_add_(1, positions.flatten(), frames.flatten(1))
        self.envelope.index_add_(0, positions.flatten(), window.square()[:, None].expand(-1, count).flatten())

    def _drop_final(self) -> None:
        # forget overlap-add samples already emitted
        drop = self.emitted + self.pad - self.ola_origin
        if drop > 0:
            self.ola = self.ola[:, drop:]
            self.envelope = self.envelope[drop:]
            self.ola_origin += drop
