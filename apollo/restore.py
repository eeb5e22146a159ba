"""File -> file restoration in chunks, with memory flat in file length.

Why chunked output equals whole-file output: chunk boundaries sit on the STFT
hop grid, so a chunk's frames are the whole file's frames; each kept sample
depends on the frames overlapping it and on the generator's receptive field
(``ApolloConfig.receptive_frames``) around them, so every chunk reads that much
context (plus two frames for the window and the reflect padding at the chunk's
edges) on each side and keeps only its core. Neighbouring cores overlap by a
short raised-cosine cross-fade, which guards seams against any residual
difference. (The published inference code cuts chunks without this context
and leaves errors within ~0.5 s of each seam.)

The passband is kept: below the input's codec cutoff (found once per file in
its long-term spectrum, ``apollo.audio.spectrum.codec_cutoff``) the output's
STFT bins are the input's own (the bands the codec zeroed filled with quiet
noise, ``ApolloConfig.hole_gate_db``, its phases indexed by the file's frame),
so the model only makes the band the codec removed and cannot colour or hiss
over what the codec kept. One cutoff per file,
so chunking does not change it; an input with no cutoff comes back as it is
(nothing was cut). A cutoff-anchored model (``ApolloConfig.anchored``)
always keeps the passband and is given the file's cutoff the same way.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from apollo.audio.io import AudioError, AudioInfo, check_finite, open_at_rate, probe
from apollo.errors import ApolloError
from apollo.files import atomic
from apollo.models.apollo import Apollo

Reader = Callable[[int, int], np.ndarray]  # (start, frames) -> (frames, channels) float32
OUTPUT_FORMATS = {".wav": "WAV", ".flac": "FLAC"}  # output suffix -> soundfile format
PLAUSIBLE_PEAK = 100.0  # 40 dB over full scale: no restoration of music; damaged weights or a broken model


class RestoreError(ApolloError):
    """The model's output is not audio (NaN, Inf, absurd peaks): nothing is written."""


@dataclass(frozen=True)
class ChunkPlan:
    core: int  # samples kept per chunk
    fade: int  # cross-fade between consecutive cores
    past: int  # context read before a core
    future: int  # context read after a core

    @classmethod
    def for_model(cls, model: Apollo, chunk_seconds: float) -> "ChunkPlan":
        cfg = model.config
        past_frames, future_frames = cfg.receptive_frames
        fade = 4 * cfg.hop
        core = max(2 * fade, round(chunk_seconds * cfg.sr / cfg.hop) * cfg.hop)
        return cls(core=core, fade=fade, past=(past_frames + 2) * cfg.hop, future=(future_frames + 2) * cfg.hop)


def passband_bins(model: Apollo, frames: np.ndarray, rate: int) -> int:
    """How many of the model's STFT bins lie below the codec cutoff of (columns, n) mono `frames` (all of
    them when there is none: nothing was cut)."""
    from apollo.audio.spectrum import codec_cutoff, power, to_db

    cut = codec_cutoff(to_db(power(frames).mean(0)), rate)
    return model.config.n_fft // 2 + 1 if cut is None else int(cut / (rate / model.config.n_fft))


def array_frames(audio: np.ndarray, n_fft: int = 2048, columns: int = 800) -> np.ndarray:
    """(columns, n_fft) mono frames evenly spaced across a (frames, channels) array."""
    mono = audio.mean(1) if audio.ndim == 2 else audio
    mono = np.pad(mono, (0, max(0, n_fft - len(mono))))
    starts = np.linspace(0, len(mono) - n_fft, num=max(1, min(columns, len(mono) // n_fft))).astype(int)
    return mono[starts[:, None] + np.arange(n_fft)].astype(np.float32)


def restore_stream(
    model: Apollo, read: Reader, frames: int, plan: ChunkPlan, progress: Callable[[int], None] | None = None,
    cutoff: int | None = None, keep_passband: bool = False,
) -> Iterator[np.ndarray]:
    """Yield restored (n, channels) blocks covering frames [0, frames) in order; `cutoff` (STFT bins below
    the file's codec cutoff) as in `Apollo.forward`."""
    device = next(model.parameters()).device
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(plan.fade) + 0.5) / plan.fade)  # 0 -> 1
    ramp = ramp.astype(np.float32)[:, None]
    held = None  # the previous core's last `fade` samples, waiting for the cross-fade
    step = plan.core - plan.fade
    for start in range(0, max(frames - plan.fade, 1), step):
        end = min(start + plan.core, frames)
        lo, hi = max(0, start - plan.past), min(frames, end + plan.future)
        last = end >= frames
        emit_frames = end - start - (0 if last else plan.fade)
        audio = read(lo, hi - lo)
        with _within_chunk(model, audio.shape, emit_frames, progress) as rest:
            out = _run(model, audio, device, cutoff, keep_passband, lo // model.config.hop)[start - lo : end - lo]
        if held is not None:
            out[: plan.fade] = held * (1 - ramp) + out[: plan.fade] * ramp
        emit = out if last else out[: -plan.fade]
        held = None if last else out[-plan.fade :]
        if progress:
            progress(rest())
        yield emit
        if last:
            break


# The tile counter of the chunk the current thread (or task) is restoring: one permanent hook per model
# reads it, so restores sharing a model (the web app's sessions, a restore inside another) never count
# each other's tiles.
_tiles: ContextVar[Callable[[int], None] | None] = ContextVar("apollo_tiles", default=None)
_hooking = threading.Lock()


def _count_tile(module, inputs, output) -> None:
    count = _tiles.get()
    if count is not None:
        count(inputs[0].shape[0])


@contextmanager
def _within_chunk(model: Apollo, shape: tuple[int, int], emit_frames: int, progress: Callable[[int], None] | None):
    """Report a chunk's progress as the model works through it, so a bar moves within a long chunk: each
    band RoFormer sees every (channel, frame) row once, in tiles; each tile advances its share of the chunk.
    Yields a function giving the frames still unreported once the chunk is done."""
    if progress is None:  # nothing to report to: the model is left as it is
        token = _tiles.set(None)  # and a restore around this one does not count its tiles
        try:
            yield lambda: emit_frames
        finally:
            _tiles.reset(token)
        return
    with _hooking:
        if not getattr(model, "_tile_hooks", False):
            for net in model.band_nets:
                net.register_forward_hook(_count_tile)
            model._tile_hooks = True
    cfg = model.config
    length, channels = shape
    rows_total = cfg.layers * channels * (max(length, cfg.n_fft) // cfg.hop + 1)  # _run pads to n_fft
    seen = reported = 0

    def count(rows: int) -> None:
        nonlocal seen, reported
        seen += rows
        due = min(emit_frames, emit_frames * seen // rows_total)
        if due > reported:
            progress(due - reported)
            reported = due

    token = _tiles.set(count)
    try:
        yield lambda: emit_frames - reported
    finally:
        _tiles.reset(token)


@torch.inference_mode()
def _run(
    model: Apollo, audio: np.ndarray, device: torch.device, cutoff: int | None, keep_passband: bool, first_frame: int
) -> np.ndarray:
    n = len(audio)
    minimum = model.config.n_fft  # torch.stft's reflect padding needs more than n_fft/2 samples
    x = torch.from_numpy(np.ascontiguousarray(audio.T)).to(device)
    if n < minimum:
        x = torch.nn.functional.pad(x, (0, minimum - n))
    y = model(x[None].float(), cutoff=cutoff, keep_passband=keep_passband, first_frame=first_frame)[0][:, :n]
    return y.float().cpu().numpy().T.copy()


def restore_array(model: Apollo, audio: np.ndarray, chunk_seconds: float = 10.0, keep_passband: bool = True) -> np.ndarray:
    """Restore an in-memory (frames, channels) array at the model's rate."""
    plan = ChunkPlan.for_model(model, chunk_seconds)
    cutoff = passband_bins(model, array_frames(audio), model.config.sr) if keep_passband or model.anchored else None
    blocks = restore_stream(model, lambda s, n: audio[s : s + n], len(audio), plan, cutoff=cutoff,
                            keep_passband=keep_passband)  # fmt: skip
    return np.concatenate(list(blocks), axis=0)


def restore_file(
    model: Apollo,
    src: str | Path | AudioInfo,
    dst: str | Path,
    *,
    chunk_seconds: float = 10.0,
    subtype: str = "FLOAT",
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    keep_passband: bool = True,
) -> int:
    """Restore ``src`` into ``dst`` (format from its suffix). Returns frames written.

    The output is written to a hidden temporary name beside ``dst``, unique to
    this call (:func:`apollo.files.atomic`), and renamed when complete; on any
    error, Ctrl-C included, the temporary file is removed. ``src`` may be
    the :class:`AudioInfo` of an input already probed."""
    info = src if isinstance(src, AudioInfo) else probe(src)
    src, dst = info.path, Path(dst)
    sr = model.config.sr
    with tempfile.TemporaryDirectory(prefix="apollo-") as work:
        path, frames = open_at_rate(info, sr, Path(work))
        cutoff = None
        if keep_passband or model.anchored:
            from apollo.audio.spectrum import sampled_frames

            cutoff = passband_bins(model, sampled_frames(path)[0], sr)
        if on_start:
            on_start(frames)
        with atomic(dst) as partial, sf.SoundFile(str(path)) as fin, sf.SoundFile(
            str(partial), "w", sr, info.channels, subtype, format=_format_for(dst)
        ) as fout:
            read = _seekable_reader(fin, src)
            plan = ChunkPlan.for_model(model, chunk_seconds)
            for block in restore_stream(model, read, frames, plan, progress, cutoff, keep_passband):
                check_output(block, dst)
                fout.write(block if subtype == "FLOAT" else np.clip(block, -1.0, 1.0 - 2.0**-23))
    return frames


def check_output(block: np.ndarray, dst: Path) -> None:
    """Refuse to finish an output that is not audio: a broken model gives NaN or huge peaks, exit 0 otherwise."""
    if not np.isfinite(block).all():
        raise RestoreError(f"{dst}: the model's output holds NaN or Inf (damaged weights?); nothing written")
    peak = float(np.abs(block).max(initial=0.0))
    if peak > PLAUSIBLE_PEAK:
        raise RestoreError(f"{dst}: the model's output peaks at {peak:.3g} (full scale is 1; damaged weights?); nothing written")


def _seekable_reader(f: sf.SoundFile, src: Path) -> Reader:
    def read(start: int, n: int) -> np.ndarray:
        try:
            f.seek(start)
            data = f.read(n, dtype="float32", always_2d=True)
        except sf.LibsndfileError as e:
            raise AudioError(f"{src}: corrupt or truncated audio ({e})") from None
        if len(data) < n:
            raise AudioError(f"{src}: truncated: {start + len(data)} of {start + n} frames readable")
        check_finite(data, src)
        return data

    return read


def _format_for(path: Path) -> str:
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AudioError(f"{path}: output must end in {' or '.join(OUTPUT_FORMATS)}")
    return fmt
