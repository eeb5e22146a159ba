"""Multi-stem sources: the embedded synthetic corpus, MUSDB18-HQ, MoisesDB, or a plain folder of stems.

Every reader returns :class:`Song` records (files per stem type, an optional
mixture); ``split_songs`` assigns whole songs to train/val/test, deterministically.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from apollo.data.music import STEMS
from apollo.params import READER_KINDS, SourceParams

log = logging.getLogger(__name__)
AUDIO_SUFFIXES = (".wav", ".flac")
MUSDB_STEMS = ("bass", "drums", "other", "vocals")


@dataclass(frozen=True)
class Song:
    name: str
    stems: dict[str, tuple[str, ...]]  # stem type -> files, summed when read
    mixture: str | None = None


@dataclass
class SourceReport:
    songs: list[Song] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: reason"


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith("."))


def read_folder(root: Path) -> list[Song]:
    """<root>/<song>/<stem>.(wav|flac); `mixture` is the mixture. Also the synth corpus' layout."""
    songs = []
    for song in sorted(p for p in root.iterdir() if p.is_dir()):
        files = {p.stem: (str(p),) for p in _audio_files(song)}
        mixture = files.pop("mixture", (None,))[0]
        if files:
            songs.append(Song(song.name, files, mixture))
    return songs


def read_musdb(root: Path) -> list[Song]:
    """MUSDB18-HQ: <root>/{train,test}/<song>/{bass,drums,other,vocals,mixture}.wav."""
    songs = []
    for part in ("train", "test"):
        for song in sorted(p for p in (root / part).glob("*") if p.is_dir()):
            stems = {s: (str(song / f"{s}.wav"),) for s in MUSDB_STEMS if (song / f"{s}.wav").exists()}
            mixture = song / "mixture.wav"
            if stems:
                songs.append(Song(f"{part}/{song.name}", stems, str(mixture) if mixture.exists() else None))
    return songs


def read_moisesdb(root: Path) -> list[Song]:
    """MoisesDB: <root>/<song>/<stem>/<file>.wav, several files per stem summed; no mixture file."""
    songs = []
    for song in sorted(p for p in root.iterdir() if p.is_dir()):
        stems = {}
        for stem_dir in sorted(p for p in song.iterdir() if p.is_dir()):
            files = _audio_files(stem_dir)
            if files:
                stems[stem_dir.name] = tuple(str(f) for f in files)
        if stems:
            songs.append(Song(song.name, stems, None))
    return songs


READERS = {"synth": read_folder, "folder": read_folder, "musdb": read_musdb, "moisesdb": read_moisesdb}
assert tuple(READERS) == READER_KINDS  # the names params.yaml may choose


def read_sources(params: SourceParams) -> SourceReport:
    root = Path(params.root)
    if params.kind not in READERS:
        raise ValueError(f"sources.kind {params.kind!r}: choose from {sorted(READERS)}")
    if not root.is_dir():
        raise FileNotFoundError(f"sources.root {root} is not a folder")
    report = SourceReport()
    for song in READERS[params.kind](root):
        usable = {}
        for stem, files in song.stems.items():
            bad = [f for f in files if not _readable(f)]
            report.skipped += [f"{f}: unreadable" for f in bad]
            if not bad:
                usable[stem] = files
        mixture = song.mixture if song.mixture and _readable(song.mixture) else None
        if song.mixture and mixture is None:
            report.skipped.append(f"{song.mixture}: unreadable")
        if usable:
            report.songs.append(Song(song.name, usable, mixture))
    for line in report.skipped:
        log.warning("skipped %s", line)
    return report


def _readable(path: str) -> bool:
    try:
        info = sf.info(path)
        return info.frames > 0
    except Exception:  # any decode failure means "skip and count", not "crash the stage"
        return False


def split_songs(names: list[str], params: SourceParams) -> dict[str, str]:
    """Song -> split: songs ranked by a seeded hash of their name, then cut by count, so the split
    is deterministic and, from three songs on, no split is empty."""
    ranked = sorted(names, key=lambda n: hashlib.sha256(f"{params.split_seed}:{n}".encode()).hexdigest())
    n = len(ranked)
    at_least = 1 if n >= 3 else 0
    n_test = max(at_least, round(n * params.test_fraction))
    n_val = max(at_least, round(n * params.val_fraction))
    return {name: "test" if i < n_test else "val" if i < n_test + n_val else "train" for i, name in enumerate(ranked)}


def read_stem(files: tuple[str, ...]) -> tuple[np.ndarray, int]:
    """Sum of the files of one stem: (frames, channels) float32 and the sample rate."""
    total, rate = None, None
    for f in files:
        audio, sr = sf.read(f, dtype="float32", always_2d=True)
        if rate is not None and sr != rate:
            raise ValueError(f"{f}: sample rate {sr} differs from {rate} in the same stem")
        rate = sr
        if total is None:
            total = audio
        else:
            n = max(len(total), len(audio))
            total = np.pad(total, ((0, n - len(total)), (0, 0))) + np.pad(audio, ((0, n - len(audio)), (0, 0)))
    return total, rate


def stem_type(name: str) -> str | None:
    """Our stem vocabulary is MoisesDB's eleven types; other names map to `other`."""
    return name if name in STEMS else "other"
