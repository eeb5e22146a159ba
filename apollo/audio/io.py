"""Reading and writing audio: soundfile for wav/flac/ogg/mp3, ffmpeg (found through pydub) for the rest.

Everything is read in blocks so memory stays flat in file length. A source
that cannot be read with random access at the model rate (other rates,
compressed formats, ffmpeg-only formats) is decoded once, sequentially, into a
temporary 32-bit float file at the model rate, through a streaming soxr
resampler.
"""

from __future__ import annotations

import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from apollo.errors import ApolloError

BLOCK = 1 << 16  # frames per read
SEEKABLE_FORMATS = {"WAV", "WAVEX", "RF64", "W64", "FLAC", "AIFF", "CAF"}


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
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        info = None
    if info is not None:
        if info.frames <= 0 or info.channels <= 0:
            raise AudioError(f"{path}: contains no audio samples")
        return AudioInfo(path, info.samplerate, info.channels, info.frames, info.format)
    ffmpeg = ffmpeg_path()
    if ffmpeg is None:
        raise AudioError(
            f"{path}: not a format soundfile reads (wav/flac/ogg/mp3); "
            "install ffmpeg to read m4a/aac/wma and other formats"
        )
    channels, rate = _ffprobe(ffmpeg, path)
    return AudioInfo(path, rate, channels, -1, "ffmpeg")


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
        with sf.SoundFile(str(info.path)) as f:
            while True:
                data = f.read(block, dtype="float32", always_2d=True)
                if not len(data):
                    break
                check_finite(data, info.path)
                read += len(data)
                yield data
    except sf.LibsndfileError as e:
        raise AudioError(f"{info.path}: corrupt or truncated audio ({e})") from None
    if read < info.frames:
        raise AudioError(f"{info.path}: truncated: header promises {info.frames} frames, {read} readable")


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
