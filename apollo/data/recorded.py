"""Real recorded material for the embedded corpus: drum kits, guitar strums, loops and hits, from Debian packages.

* Hydrogen drum kits (``hydrogen-drumkits``): multi-velocity one-shots described by each kit's
  ``drumkit.xml``; sequenced into grooves (:func:`render_kit`). ``circAfrique v4`` is left out (half its
  files carry a lossy edge near 15.5 kHz).
* Guitar strums (``hydrogen-drumkits-effects``, the ``belofilms_GuitarStrums`` kit): one recording per
  chord and direction, played on the song's chords (:func:`render_strums`).
* ``sonic-pi-samples``: loops and instruments, played as recorded (:func:`render_loops`).
* The AVL drum kits (``avldrums.lv2-soundfont``) are SF2 files that fluidsynth renders (``synth.py``).

Every file is checked for a band limit (a drop of more than ``drop_db`` within about 1 kHz between 10
and 21.5 kHz: a lossy source or a low-passed sample) and left out if it has one; the catalogue counts them.

No file is both trained on and evaluated: kits are assigned whole, every other file by itself, to ``train``
or ``heldout`` by a seeded hash of its name (:func:`split_of`). Training songs use ``train`` material only;
the held-out songs (and the evaluation's real-audio clips) use ``heldout`` material only.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from apollo.audio.spectrum import codec_cutoff, power, to_db
from apollo.params import SR

SPLIT_NAMES = ("train", "heldout")
EXCLUDED_KITS = ("circAfrique v4",)  # lossy edge near 15.5 kHz in half its files
STRUM_KIT = "belofilms_GuitarStrums"
AUDIO = (".flac", ".wav")

# drum roles and the General MIDI notes that ``music.drums`` / ``music.percussion`` write for them
GM_ROLE = {36: "kick", 38: "snare", 42: "hat_closed", 46: "hat_open", 49: "crash", 51: "ride",
           41: "tom", 43: "tom", 45: "tom", 47: "tom", 48: "tom",
           54: "perc", 56: "perc", 62: "perc", 63: "perc", 64: "perc", 69: "perc", 70: "perc", 75: "perc",
           82: "perc"}  # fmt: skip
ROLE_WORDS = (  # first match wins: instrument name (lower case) -> role
    ("snare roll", None), ("kick", "kick"), ("bass drum", "kick"), ("bassdrum", "kick"), ("snare", "snare"),
    ("rim", "snare"), ("clap", "snare"), ("open", "hat_open"), ("op", "hat_open"), ("hat", "hat_closed"),
    ("hh", "hat_closed"), ("tom", "tom"), ("crash", "crash"), ("splash", "crash"), ("ride", "ride"),
    ("cajon", "perc"), ("maraca", "perc"), ("bongo", "perc"), ("tambourine", "perc"), ("cowbell", "perc"),
    ("clave", "perc"), ("woodblock", "perc"), ("conga", "perc"), ("snap", "perc"), ("waterglass", "perc"),
)
PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


@dataclass(frozen=True)
class Layer:
    low: float  # velocity range, 0-1
    high: float
    gain: float
    path: str


@dataclass(frozen=True)
class Kit:
    name: str
    roles: dict  # role -> tuple of instruments, each a tuple of Layers


@dataclass
class Catalogue:
    """The usable real material per split, and what was left out."""

    kits: dict = field(default_factory=lambda: {s: [] for s in SPLIT_NAMES})  # split -> [Kit]
    sf2_kits: dict = field(default_factory=lambda: {s: [] for s in SPLIT_NAMES})  # split -> [sf2 path]
    strums: dict = field(default_factory=lambda: {s: {} for s in SPLIT_NAMES})  # split -> {(pc, quality, dir): [path]}
    loops: dict = field(default_factory=lambda: {s: [] for s in SPLIT_NAMES})  # split -> [path] (>= 1 s)
    hits: dict = field(default_factory=lambda: {s: [] for s in SPLIT_NAMES})  # split -> [path] (< 1 s)
    band_limited: list = field(default_factory=list)  # "path: cut at N Hz"

    def files(self, split: str) -> set[str]:
        """Every recording of a split (a kit's layers, the SF2 files, strums, loops, hits)."""
        out = {layer.path for kit in self.kits[split] for insts in kit.roles.values() for i in insts for layer in i}
        out |= set(self.sf2_kits[split]) | set(self.loops[split]) | set(self.hits[split])
        return out | {p for paths in self.strums[split].values() for p in paths}


def split_of(name: str, seed: int, heldout_fraction: float) -> str:
    """``train`` or ``heldout`` for a kit or file name: a seeded hash, so adding files moves no other."""
    h = int(hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()[:8], 16) / 16**8
    return "heldout" if h < heldout_fraction else "train"


@lru_cache(maxsize=4096)
def load(path: str) -> np.ndarray:
    """A recording as (frames, 2) float32 at 44.1 kHz (mono duplicated, other rates resampled with soxr)."""
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio[:, :2]
    if rate != SR:
        audio = soxr.resample(audio, rate, SR, quality="VHQ").astype(np.float32)
    return np.ascontiguousarray(audio)


def band_limit_hz(audio: np.ndarray, sr: int = SR, drop_db: float = 20.0) -> float | None:
    """Where a recording's long-term spectrum falls by more than `drop_db` within about 1 kHz between 10 and
    20.5 kHz (a lossy or low-passed source), or None. Digital silence above an edge counts as a drop.

    Edges are searched up to 19.5 kHz: every converter's (or resampler's) anti-alias filter falls steeply
    from about 20 kHz, which is not what a band-limited source means."""
    mono = np.asarray(audio, np.float32).reshape(len(audio), -1).mean(1)
    n_fft = 2048
    if len(mono) < n_fft:
        mono = np.pad(mono, (0, n_fft - len(mono)))
    starts = np.arange(0, len(mono) - n_fft + 1, n_fft // 2)
    frames = mono[starts[:, None] + np.arange(n_fft)]
    level = to_db(power(frames).mean(0))
    # no floor: a source's band limit counts at whatever level it lies (the corpus' choice of files stays
    # what docs/corpus.md counts)
    return codec_cutoff(level, sr, drop_db=drop_db, lo_hz=10000.0, hi_hz=20500.0, range_db=None)


def role_of(instrument: str) -> str | None:
    name = instrument.lower()
    for word, role in ROLE_WORDS:
        if re.search(rf"\b{word}", name):
            return role
    return None


def read_kit(folder: Path) -> Kit | None:
    """A Hydrogen kit's instruments by role (layers with velocity ranges), or None without drumkit.xml."""
    xml = folder / "drumkit.xml"
    if not xml.exists():
        return None
    root = ET.parse(xml).getroot()
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    roles: dict[str, list] = {}
    for inst in root.iter(f"{ns}instrument"):
        name = (inst.findtext(f"{ns}name") or "").strip()
        role = role_of(name)
        layers = []
        for layer in inst.iter(f"{ns}layer"):
            layers.append(Layer(float(layer.findtext(f"{ns}min") or 0), float(layer.findtext(f"{ns}max") or 1),
                                float(layer.findtext(f"{ns}gain") or 1), str(folder / layer.findtext(f"{ns}filename"))))  # fmt: skip
        single = inst.findtext(f"{ns}filename")
        if not layers and single:  # the older format: one file per instrument
            layers.append(Layer(0.0, 1.0, 1.0, str(folder / single)))
        layers = [la for la in layers if Path(la.path).is_file()]
        if role and layers:
            roles.setdefault(role, []).append(tuple(layers))
    return Kit(folder.name, {r: tuple(v) for r, v in roles.items()})


def parse_chord(stem: str) -> tuple[int, str, str] | None:
    """'Fsharp minor_DOWN_02' -> (6, 'minor', 'down'); seventh chords and unknown names -> None."""
    m = re.match(r"^([A-G])(sharp|flat)? ?(major|minor|minro)(7b5)?(?:_(down|up))?_\d+", stem, re.IGNORECASE)
    if not m or m.group(4):
        return None
    pc = (PITCH_CLASS[m.group(1)] + {"sharp": 1, "flat": -1}.get((m.group(2) or "").lower(), 0)) % 12
    return pc, "major" if m.group(3).lower() == "major" else "minor", (m.group(5) or "down").lower()


def build_catalogue(
    drumkits: str, sf2_kits: tuple[str, ...], samples: str, seed: int, heldout_fraction: float, drop_db: float
) -> Catalogue:
    """Scan the installed material; folders that do not exist contribute nothing (the corpus then falls back
    to the General MIDI soundfont for that part)."""
    cat = Catalogue()

    def usable(path: str) -> bool:
        cut = band_limit_hz(load(path), SR, drop_db)
        if cut is not None:
            cat.band_limited.append(f"{path}: cut at {cut:.0f} Hz")
        return cut is None

    kits_root = Path(drumkits)
    for folder in sorted(p for p in kits_root.iterdir() if p.is_dir()) if kits_root.is_dir() else []:
        if folder.name in EXCLUDED_KITS:
            continue
        if folder.name == STRUM_KIT:
            for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO):
                chord = parse_chord(path.stem)
                if chord and usable(str(path)):
                    split = split_of(path.name, seed, heldout_fraction)
                    cat.strums[split].setdefault(chord, []).append(str(path))
            continue
        kit = read_kit(folder)
        if kit is None:
            continue
        roles = {}
        for role, instruments in kit.roles.items():
            kept = tuple(t for t in (tuple(la for la in inst if usable(la.path)) for inst in instruments) if t)
            if kept:
                roles[role] = kept
        if {"kick", "snare"} <= set(roles) or "perc" in roles:
            cat.kits[split_of(kit.name, seed, heldout_fraction)].append(Kit(kit.name, roles))
    for path in sf2_kits:
        if Path(path).is_file():
            cat.sf2_kits[split_of(Path(path).name, seed, heldout_fraction)].append(path)
    samples_root = Path(samples)
    for path in sorted(p for p in samples_root.rglob("*") if p.suffix.lower() in AUDIO) if samples_root.is_dir() else []:
        if not usable(str(path)):
            continue
        split = split_of(path.name, seed, heldout_fraction)
        (cat.loops if len(load(str(path))) >= SR else cat.hits)[split].append(str(path))
    return cat


def _place(out: np.ndarray, audio: np.ndarray, at: int, gain: float, pan: float = 0.0) -> None:
    if at >= len(out) or at < 0:
        return
    n = min(len(audio), len(out) - at)
    left, right = np.cos((pan + 1) * np.pi / 4), np.sin((pan + 1) * np.pi / 4)
    out[at : at + n] += audio[:n] * (gain * np.sqrt(2) * np.array([left, right], np.float32))


def render_kit(kit: Kit, notes, length: int, rng: np.random.Generator) -> np.ndarray:
    """A groove of General MIDI drum notes through a real kit: the velocity picks the layer, timing is
    humanised (about 4 ms), each role keeps one instrument and one pan position per song."""
    out = np.zeros((length, 2), np.float32)
    chosen = {role: insts[int(rng.integers(len(insts)))] for role, insts in kit.roles.items()}
    pans = {role: float(rng.uniform(-0.4, 0.4)) for role in chosen}
    fallback = {"hat_open": "hat_closed", "hat_closed": "hat_open", "ride": "hat_closed", "crash": "ride",
                "tom": "snare", "perc": "snare"}  # fmt: skip
    for n in notes:
        role = GM_ROLE.get(n.pitch, "perc")
        role = role if role in chosen else fallback.get(role)
        if role not in chosen:
            continue
        v = n.velocity / 127
        layers = [la for la in chosen[role] if la.low <= v <= la.high] or list(chosen[role])
        layer = layers[int(rng.integers(len(layers)))]
        at = int(round((n.start + rng.normal(0, 0.004)) * SR))
        _place(out, load(layer.path), at, layer.gain * v**1.5, pans[role])
    return out


def chord_quality(pitches) -> tuple[int, str]:
    root, third = pitches[0], pitches[1]
    return root % 12, "major" if (third - root) % 12 == 4 else "minor"


def render_strums(strums: dict, chords, length: int, rng: np.random.Generator) -> np.ndarray:
    """Recorded strums on (start s, chord pitches, beat s) events: down on the beat, up between; each strum is
    damped (20 ms fade) where the next starts. Chords with no recording take one of the same root."""
    out = np.zeros((length, 2), np.float32)
    events = []
    for start, pitches, beat in chords:
        for pos, direction in ((0, "down"), (1, "down"), (1.5, "up"), (2.5, "up"), (3, "down")):
            events.append((start + pos * beat, chord_quality(pitches), direction))
    fade = int(0.02 * SR)
    for i, (t, (pc, quality), direction) in enumerate(events):
        pool = strums.get((pc, quality, direction)) or strums.get((pc, quality, "down")) or \
            [p for (c, _, _), v in strums.items() if c == pc for p in v]  # fmt: skip
        if not pool:
            continue
        audio = load(pool[int(rng.integers(len(pool)))])
        end = int(events[i + 1][0] * SR) if i + 1 < len(events) and events[i + 1][0] - t < 1.5 else None
        if end is not None:
            audio = audio[: max(fade, end - int(t * SR))].copy()
            audio[-fade:] *= np.linspace(1, 0, min(fade, len(audio)), dtype=np.float32)[:, None]
        _place(out, audio, int(round((t + rng.normal(0, 0.003)) * SR)), float(rng.uniform(0.6, 1.0)))
    return out


def render_loops(loops: list[str], spans, length: int, rng: np.random.Generator) -> np.ndarray:
    """Recordings played as they are, one after another, inside each (start s, end s) span."""
    out = np.zeros((length, 2), np.float32)
    for start, end in spans:
        t = start
        while t < end:
            audio = load(loops[int(rng.integers(len(loops)))])
            audio = audio[: int((end - t) * SR)]
            _place(out, audio, int(t * SR), float(rng.uniform(0.5, 1.0)), float(rng.uniform(-0.3, 0.3)))
            t += max(len(audio) / SR, 0.25)
    return out


def render_hits(hits: list[str], notes, length: int, rng: np.random.Generator) -> np.ndarray:
    """Short recordings (one-shots) on the times of a percussion part, three of them per song."""
    out = np.zeros((length, 2), np.float32)
    chosen = [hits[int(i)] for i in rng.choice(len(hits), size=min(3, len(hits)), replace=False)]
    by_pitch: dict[int, str] = {}
    for n in notes:
        path = by_pitch.setdefault(n.pitch, chosen[len(by_pitch) % len(chosen)])
        _place(out, load(path), int(round((n.start + rng.normal(0, 0.004)) * SR)), (n.velocity / 127) ** 1.5)
    return out
