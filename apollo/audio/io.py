"""Reading and writing audio: soundfile for wav/flac/ogg/mp3, ffmpeg (found through pydub) for the rest.

Everything is read in blocks so memory stays flat in file length. A source
that cannot be read with random access at the model rate (other rates,
compressed formats, ffmpeg-only formats) is decoded once, sequentially, into a
temporary 32-bit float file at the model rate, through a streaming soxr
resampler.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from apollo.errors import ApolloError

BLOCK = 1 << 16  # frames per read
SEEKABLE_FORMATS = {"WAV", "WAVEX", "RF64", "W64", "FLAC", "AIFF", "CAF"}
# An MP3's frame count is the decoder's estimate unless a Xing header states it (a CBR file's estimate was
# off by 2.6 MPEG frames in 30 s): a shortfall counts as truncation beyond 1% or four MPEG frames
MP3_SLACK_FRAMES, MP3_SLACK_SHARE = 4 * 1152, 0.01


class AudioError(ApolloError):
    """Input audio that cannot be used; the message is meant for the user."""


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    samplerate: int
    channels: int
    frames: int
    format: str  # soundfile format name, or "ffmpeg"


def ffmpeg_path() -> str | None:
    with warnings.catch_warnings():
        # pydub warns on import when ffmpeg is missing; we report that ourselves, once
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub.utils import which
    return which("ffmpeg")


def probe(path: str | Path) -> AudioInfo:
    """Header-level check of an input file: exists, decodable, not empty."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"input not found: {path}")
    if not path.is_file():
        raise AudioError(f"input is not a file: {path}")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file")
    try:
        with quiet_decoder():
            info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        info = None
    if info is not None:
        if info.frames <= 0 or info.channels <= 0:
            raise AudioError(f"{path}: contains no audio samples")
        declared = wav_declared_frames(path) if info.format in ("WAV", "WAVEX") else None
        if declared is not None and declared > info.frames:  # libsndfile silently reads what is there
            raise AudioError(f"{path}: truncated: its header promises {declared} frames, the file holds {info.frames}")
        return AudioInfo(path, info.samplerate, info.channels, info.frames, info.format)
    ffmpeg = ffmpeg_path()
    if ffmpeg is None:
        raise AudioError(
            f"{path}: not a format soundfile reads (wav/flac/ogg/mp3); "
            "install ffmpeg to read m4a/aac/wma and other formats"
        )
    channels, rate = _ffprobe(ffmpeg, path)
    return AudioInfo(path, rate, channels, -1, "ffmpeg")


@contextmanager
def quiet_decoder():
    """Silence what libsndfile's MP3 decoder (mpg123) prints straight to the process's stderr, e.g. "Xing
    stream size off by more than 1%" on a truncated file: we report truncation ourselves, in one line."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (an embedding host): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def wav_declared_frames(path: Path) -> int | None:
    """The frame count a RIFF/WAVE header declares (its data chunk's size), or None when it declares none
    (a streamed file's 0 or 0xFFFFFFFF) or the header cannot be walked."""
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = 0
        while len(chunk := f.read(8)) == 8:
            kind, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if kind == b"data":
                return size // block_align if block_align and size not in (0, 0xFFFFFFFF) else None
            body = f.read(size + size % 2)  # chunks are padded to even sizes
            if kind == b"fmt " and len(body) >= 14:
                block_align = int.from_bytes(body[12:14], "little")
    return None


def _ffprobe(ffmpeg: str, path: Path) -> tuple[int, int]:
    # `ffmpeg -i` prints the stream layout on stderr; ffprobe may not be installed beside it
    res = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    for line in res.stderr.splitlines():
        if "Audio:" in line:
            parts = [p.strip() for p in line.split("Audio:", 1)[1].split(",")]
            rate = next((int(p.split()[0]) for p in parts if p.endswith("Hz")), 0)
            layout = parts[2] if len(parts) > 2 else ""
            channels = {"mono": 1, "stereo": 2}.get(layout.split("(")[0], 0)
            if not channels and "channels" in layout:
                channels = int(layout.split()[0])
            if rate and channels:
                return channels, rate
    raise AudioError(f"{path}: not an audio file (neither soundfile nor ffmpeg can decode it)")


def check_finite(block: np.ndarray, path: Path) -> None:
    if not np.isfinite(block).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")


def read_blocks(info: AudioInfo, block: int = BLOCK):
    """Yield float32 (frames, channels) blocks at the file's own rate, validated."""
    if info.format == "ffmpeg":
        yield from _ffmpeg_blocks(info, block)
        return
    read = 0
    try:
        with quiet_decoder():
            f = sf.SoundFile(str(info.path))
        with f:
            while True:
                data = f.read(block, dtype="float32", always_2d=True)
                if not len(data):
                    break
                check_finite(data, info.path)
                read += len(data)
                yield data
    except sf.LibsndfileError as e:
        raise AudioError(f"{info.path}: corrupt or truncated audio ({e})") from None
    slack = max(MP3_SLACK_FRAMES, MP3_SLACK_SHARE * info.frames) if info.format == "MP3" else 0
    if read < info.frames - slack:
        raise AudioError(f"{info.path}: truncated: its header promises {info.frames} frames, {read} readable")


def _ffmpeg_blocks(info: AudioInfo, block: int):
    cmd = [ffmpeg_path(), "-v", "error", "-nostdin", "-i", str(info.path), "-f", "f32le", "-"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        bytes_per_block = block * info.channels * 4
        got = 0
        while chunk := proc.stdout.read(bytes_per_block):
            data = np.frombuffer(chunk[: len(chunk) // (4 * info.channels) * 4 * info.channels], np.float32)
            data = data.reshape(-1, info.channels)
            check_finite(data, info.path)
            got += len(data)
            yield data
        err = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0 or got == 0:
            raise AudioError(f"{info.path}: ffmpeg could not decode it ({err.splitlines()[-1] if err else 'no audio'})")


def verify(info: AudioInfo) -> None:
    """Decode the whole input once, discarding it: a truncated or corrupt file fails here, before anything
    is written for it or for the inputs after it."""
    for _ in read_blocks(info):
        pass


def open_at_rate(info: AudioInfo, rate: int, workdir: Path) -> tuple[Path, int]:
    """A path soundfile reads with random access at `rate`, and its frame count.

    Seekable formats already at `rate` are used in place (validated block by
    block when read); the rest is decoded once into ``workdir``."""
    if info.samplerate == rate and info.format in SEEKABLE_FORMATS:
        return info.path, info.frames
    out = workdir / "decoded.rf64"
    resampler = None if info.samplerate == rate else soxr.ResampleStream(info.samplerate, rate, info.channels, "float32", "HQ")
    frames = 0
    with sf.SoundFile(str(out), "w", rate, info.channels, "FLOAT", format="RF64") as f:
        for data in read_blocks(info):
            if resampler is not None:
                data = resampler.resample_chunk(data)
            f.write(data)
            frames += len(data)
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros((0, info.channels), np.float32), last=True)
            f.write(tail)
            frames += len(tail)
    if frames == 0:
        raise AudioError(f"{info.path}: contains no audio samples")
    return out, frames
