"""Lossy codecs that make the degraded half of a training pair, sample-aligned to the clean half.

MP3: LAME through ``lameenc`` with input and output rate both pinned to the
source rate (otherwise LAME silently resamples low bitrates), decoded with
soundfile (libsndfile's mpg123). lameenc writes no gapless (LAME/Xing delay)
header, so the decoder returns encoder delay + decoder delay = 576 + 529 = 1105
samples of lead-in at every bitrate; they are cut, and the result is trimmed or
zero-padded to the clean length.

AAC and Opus go through ffmpeg when it is installed; their lead-in is measured
by cross-correlation against the input rather than assumed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import lameenc
import numpy as np
import soundfile as sf

from apollo.params import CODECS, MPEG1_L3_KBPS

LAME_DELAY = 1105


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad (frames, channels) audio to `length` frames."""
    if len(audio) >= length:
        return audio[:length]
    return np.concatenate([audio, np.zeros((length - len(audio), audio.shape[1]), audio.dtype)])


def to_int16(audio: np.ndarray) -> np.ndarray:
    return np.round(np.clip(audio, -1.0, 32767 / 32768) * 32768).astype("<i2")


def mp3_encode(audio: np.ndarray, sr: int, kbps: int, quality: int = 2) -> bytes:
    """(frames, channels) float in [-1, 1] -> MP3 bytes (CBR)."""
    enc = lameenc.Encoder()
    enc.set_bit_rate(int(kbps))
    enc.set_in_sample_rate(sr)
    enc.set_out_sample_rate(sr)
    enc.set_channels(audio.shape[1])
    enc.set_quality(quality)
    return bytes(enc.encode(to_int16(audio).tobytes()) + enc.flush())


def mp3_decode(data: bytes, length: int) -> np.ndarray:
    """MP3 bytes from :func:`mp3_encode` -> (length, channels) float32, aligned to the encoder's input."""
    audio, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return fit_length(audio[LAME_DELAY:], length)




def mp3_frame_kbps(data: bytes) -> int:
    """Bitrate of the first MPEG-1 Layer III frame in `data` (0 if none is found).

    At 44.1 kHz MP3 is MPEG-1, whose lowest rate is 32 kbps: a 24 kbps request
    with the output rate pinned to 44.1 kHz is encoded at 32 kbps, and the
    shards record both the requested and this actual rate."""
    for i in range(len(data) - 3):
        if data[i] == 0xFF and (data[i + 1] & 0xFE) == 0xFA:  # sync, MPEG-1, Layer III
            index = data[i + 2] >> 4
            if 0 < index < 15:
                return MPEG1_L3_KBPS[index]
    return 0


def mp3_round_trip(audio: np.ndarray, sr: int, kbps: int) -> tuple[np.ndarray, bytes]:
    data = mp3_encode(audio, sr, kbps)
    return mp3_decode(data, len(audio)), data


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def ffmpeg_round_trip(audio: np.ndarray, sr: int, codec: str, kbps: int) -> tuple[np.ndarray, bytes]:
    """AAC (.m4a) or Opus (.ogg) through ffmpeg; lead-in removed by cross-correlation."""
    if codec not in ("aac", "opus"):
        raise ValueError(f"unknown codec {codec!r}; choose from {CODECS}")
    if not ffmpeg_available():
        raise RuntimeError(f"codec {codec} needs ffmpeg on PATH")
    suffix, args = {"aac": (".m4a", ["-c:a", "aac"]), "opus": (".ogg", ["-c:a", "libopus"])}[codec]
    with tempfile.TemporaryDirectory() as tmp:
        src, enc, dec = Path(tmp) / "in.wav", Path(tmp) / f"enc{suffix}", Path(tmp) / "dec.wav"
        sf.write(str(src), audio, sr, subtype="FLOAT")
        run = lambda *a: subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, a)], check=True)  # noqa: E731
        run("-i", src, *args, "-b:a", f"{kbps}k", enc)
        run("-i", enc, "-ar", sr, dec)
        data = enc.read_bytes()
        decoded, _ = sf.read(str(dec), dtype="float32", always_2d=True)
    lag = estimate_lag(audio, decoded, max_lag=4096)
    return fit_length(decoded[max(lag, 0) :], len(audio)), data


def degrade(audio: np.ndarray, sr: int, codec: str, kbps: int) -> tuple[np.ndarray, bytes, int]:
    """Round trip through `codec`: (decoded audio aligned to `audio`, the bitstream, its actual kbps)."""
    if codec == "mp3":
        decoded, bitstream = mp3_round_trip(audio, sr, kbps)
        return decoded, bitstream, mp3_frame_kbps(bitstream)
    decoded, bitstream = ffmpeg_round_trip(audio, sr, codec, kbps)
    return decoded, bitstream, kbps


def degrade_pair(audio: np.ndarray, sr: int, codec: str, kbps: int) -> tuple[np.ndarray, np.ndarray, bytes, int, float]:
    """`degrade`, then the clean and the decoded audio scaled jointly so the louder peak is 1 (their
    ratio kept): (clean, degraded, bitstream, actual kbps, scale applied)."""
    decoded, bitstream, actual = degrade(audio, sr, codec, kbps)
    common = max(float(np.abs(audio).max()), float(np.abs(decoded).max()), 1e-9)
    return audio / common, decoded / common, bitstream, actual, 1.0 / common


def estimate_lag(reference: np.ndarray, signal: np.ndarray, max_lag: int) -> int:
    """Lag (in samples) of `signal` behind `reference`, by FFT cross-correlation of channel sums."""
    a, b = reference.sum(1), signal.sum(1)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(np.concatenate([corr[: max_lag + 1], corr[-max_lag:]]))])
