"""One recording's high band, original vs MP3 vs restored, at a few bitrates.

The long-term level of the band from --lo-hz to Nyquist, in dB relative to the whole band (the evaluation's
own `long_term_level_db`, `band_level_db`), for the first --seconds of FILE: whether the restored band is as
dark or as bright as the original. docs/quality.md's dark-guitar figures come from

    .venv/bin/python bench/band_level.py /usr/share/sonic-pi/samples/guit_em9.flac --kbps 32 64 128

Needs a model: `make repro` first, or --checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from apollo.audio.codec import mp3_round_trip
from apollo.checkpoint import load_generator
from apollo.config import project_params
from apollo.metrics import band_level_db, long_term_level_db
from apollo.params import SR
from apollo.restore import restore_array


def relative_band_db(audio: np.ndarray, lo_hz: float) -> float:
    """(frames, channels) -> the band from lo_hz to Nyquist re the whole band, dB."""
    level = long_term_level_db(audio.T)
    return band_level_db(level, lo_hz, SR / 2 + 1, SR) - band_level_db(level, 0.0, SR / 2 + 1, SR)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--kbps", nargs="+", type=int, default=[32, 64, 128])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--lo-hz", type=float, default=16000.0)
    ap.add_argument("--checkpoint", help="default: the pipeline's trained generator")
    args = ap.parse_args()
    checkpoint = Path(args.checkpoint or project_params().generator_path)
    for path, what in ((Path(args.file), "no such file"), (checkpoint, "no model (make repro first, or --checkpoint)")):
        if not path.is_file():
            raise SystemExit(f"error: {path}: {what}")
    try:
        audio, rate = sf.read(args.file, dtype="float32", always_2d=True)
    except sf.LibsndfileError as e:
        raise SystemExit(f"error: {args.file}: not audio soundfile reads ({e})") from None
    if rate != SR:
        audio = soxr.resample(audio, rate, SR).astype(np.float32)
    audio = audio[: int(args.seconds * SR)]
    model = load_generator(checkpoint).eval()
    print(f"band above {args.lo_hz / 1000:g} kHz re the full band (dB), original {relative_band_db(audio, args.lo_hz):.1f}")
    for kbps in args.kbps:
        mp3, _ = mp3_round_trip(audio, SR, kbps)
        restored = restore_array(model, mp3)
        print(f"{kbps:4d} kbps: mp3 {relative_band_db(mp3, args.lo_hz):.1f}  restored {relative_band_db(restored, args.lo_hz):.1f}")


if __name__ == "__main__":
    main()
