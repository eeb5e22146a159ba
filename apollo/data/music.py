"""Procedural composition: a song plan (tempo, key, sections, chords) and note lists per stem.

Everything derives from a numpy Generator seeded by (corpus seed, song index),
so a song is the same whatever the worker count or PYTHONHASHSEED.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STEMS = (
    "bass", "bowed_strings", "drums", "guitar", "other", "other_keys",
    "other_plucked", "percussion", "piano", "vocals", "wind",
)  # fmt: skip  -- MoisesDB's eleven stem types

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
PROGRESSIONS = {  # scale degrees, one chord per bar
    "major": ((0, 4, 5, 3), (0, 5, 3, 4), (1, 4, 0, 0), (0, 3, 0, 4), (5, 3, 0, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2)),
}
FORM = (("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("bridge", 4), ("chorus", 8))
# General MIDI programs per stem (drums and percussion play on channel 10)
PROGRAMS = {
    "bass": (32, 33, 34, 38),
    "bowed_strings": (40, 41, 42, 48, 49),
    "guitar": (24, 25, 26, 27, 29),
    "other": (80, 81, 87, 90, 98),
    "other_keys": (4, 5, 16, 17, 19, 89),
    "other_plucked": (45, 46, 104, 105, 107),
    "piano": (0, 1, 2),
    "wind": (56, 65, 66, 68, 71, 73),
}
# how likely a stem plays in a song, and in each section of it
SONG_PROB = {s: 0.55 for s in STEMS} | {"drums": 0.9, "bass": 0.9, "vocals": 0.7, "piano": 0.6}
SECTION_PROB = 0.7


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    duration: float
    pitch: int  # MIDI
    velocity: int


@dataclass
class Plan:
    tempo: float
    root: int
    mode: str
    bars: list[tuple[str, int, tuple[int, int, int]]]  # (section, index of section, chord pitches)
    stems: dict[str, list[Note]] = field(default_factory=dict)
    programs: dict[str, int] = field(default_factory=dict)
    sections: dict[str, set[int]] = field(default_factory=dict)  # stem -> the sections it plays in

    @property
    def beat(self) -> float:
        return 60.0 / self.tempo


def chord(root: int, mode: str, degree: int) -> tuple[int, int, int]:
    scale = SCALES[mode]
    return tuple(root + scale[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4))


def compose(rng: np.random.Generator, seconds: float) -> Plan:
    tempo = float(rng.integers(80, 150))
    mode = "major" if rng.random() < 0.6 else "minor"
    root = int(rng.integers(0, 12))
    progs = PROGRESSIONS[mode]
    section_prog = {name: progs[int(rng.integers(len(progs)))] for name, _ in FORM}
    bar_seconds = 4 * 60.0 / tempo
    bars = []
    for s, (name, length) in enumerate(FORM):
        for b in range(length):
            bars.append((name, s, chord(root, mode, section_prog[name][b % 4])))
    bars = bars[: int(np.ceil(seconds / bar_seconds))]
    plan = Plan(tempo, root, mode, bars)
    chosen = [s for s in STEMS if rng.random() < SONG_PROB[s]]
    if len(chosen) < 2:
        chosen = sorted(rng.choice(STEMS, 2, replace=False).tolist())
    sections = sorted({s for _, s, _ in bars})
    for stem in chosen:
        # each stem plays in some sections only: the silent gaps SAD should find
        on = {s for s in sections if rng.random() < SECTION_PROB} or {sections[int(rng.integers(len(sections)))]}
        plan.programs[stem] = int(rng.choice(PROGRAMS[stem])) if stem in PROGRAMS else 0
        plan.sections[stem] = on
        plan.stems[stem] = PARTS[stem](rng, plan, on)
    return plan


def bar_spans(plan: Plan, on: set[int]):
    """(start s, section name, chord, last bar of its section) of every bar in the sections `on`."""
    bar = 4 * plan.beat
    for i, (name, section, ch) in enumerate(plan.bars):
        if section in on:
            last = i + 1 == len(plan.bars) or plan.bars[i + 1][1] != section
            yield i * bar, name, ch, last


def _vel(rng, base: int, spread: int = 12) -> int:
    return int(np.clip(base + rng.integers(-spread, spread + 1), 1, 127))


def bass(rng, plan, on):
    notes, b = [], plan.beat
    pattern = [(0, 1.5), (1.5, 0.5), (2, 1), (3, 1)] if rng.random() < 0.5 else [(i * 0.5, 0.45) for i in range(8)]
    for t0, _, ch, _ in bar_spans(plan, on):
        low = 36 + (ch[0] - 36) % 12
        for k, (pos, dur) in enumerate(pattern):
            pitch = low + (7 if k % 4 == 2 and rng.random() < 0.4 else 0)
            notes.append(Note(t0 + pos * b, dur * b * 0.95, pitch, _vel(rng, 96)))
    return notes


def drums(rng, plan, on):
    notes, b = [], plan.beat
    swing = rng.random() < 0.3
    for t0, _, _, last in bar_spans(plan, on):
        if rng.random() < 0.25:
            notes.append(Note(t0, 0.5, 49, _vel(rng, 100)))  # crash
        for eighth in range(8):
            t = t0 + eighth * b / 2 + (0.08 * b if swing and eighth % 2 else 0)
            if last and eighth >= 4:  # fill into the next section: toms and snare in sixteenths
                for k in range(2):
                    notes.append(Note(t + k * b / 4, 0.2, int(rng.choice([38, 41, 43, 45, 47, 48])), _vel(rng, 100)))
                continue
            notes.append(Note(t, 0.1, 42 if eighth % 4 else 46, _vel(rng, 70)))
            if eighth in (0, 4) or (eighth == 5 and rng.random() < 0.3):
                notes.append(Note(t, 0.3, 36, _vel(rng, 110)))
            if eighth in (2, 6):
                notes.append(Note(t, 0.3, 38, _vel(rng, 105)))
    return notes


def percussion(rng, plan, on):
    notes, b = [], plan.beat
    kit = [int(x) for x in rng.choice([54, 56, 62, 63, 64, 69, 70, 75, 82], 3, replace=False)]
    for t0, _, _, _ in bar_spans(plan, on):
        for six in range(16):
            if six % 2 == 0 or rng.random() < 0.3:
                notes.append(Note(t0 + six * b / 4, 0.1, kit[six % 3 if six % 4 else 0], _vel(rng, 75, 20)))
    return notes


def comp(rng, plan, on, octave: int, rhythm: tuple[float, ...], length: float, spread: float = 0.0):
    """Chords on a rhythm (in beats); `spread` seconds between strummed strings."""
    notes, b = [], plan.beat
    for t0, _, ch, _ in bar_spans(plan, on):
        voicing = [p % 12 + 12 * octave for p in ch] + [ch[0] % 12 + 12 * (octave + 1)]
        for pos in rhythm:
            for k, p in enumerate(sorted(voicing)):
                notes.append(Note(t0 + pos * b + k * spread, length * b, p, _vel(rng, 80)))
    return notes


def melody(rng, plan, on, low: int, high: int, step_beats: float = 0.5):
    """A phrase-shaped line on scale tones, favouring chord tones on strong beats."""
    notes, b = [], plan.beat
    scale = [p for p in range(low, high + 1) if (p - plan.root) % 12 in SCALES[plan.mode]]
    idx = len(scale) // 2
    for t0, _, ch, _ in bar_spans(plan, on):
        pos = 0.0
        while pos < 4:
            dur = step_beats * float(rng.choice([1, 1, 2, 3]))
            if rng.random() < 0.2:  # breath
                pos += dur
                continue
            idx = int(np.clip(idx + rng.integers(-2, 3), 0, len(scale) - 1))
            pitch = scale[idx]
            if pos in (0.0, 2.0):  # strong beat: nearest chord tone
                pitch = min((p for p in scale if p % 12 in {c % 12 for c in ch}), key=lambda p: abs(p - pitch))
            notes.append(Note(t0 + pos * b, min(dur, 4 - pos) * b * 0.9, pitch, _vel(rng, 90)))
            pos += dur
    return notes


PARTS = {
    "bass": bass,
    "drums": drums,
    "percussion": percussion,
    "piano": lambda rng, plan, on: comp(rng, plan, on, 5, (0, 1.5, 2, 3.5), 0.9),
    "other_keys": lambda rng, plan, on: comp(rng, plan, on, 4, (0,), 3.8),
    "guitar": lambda rng, plan, on: comp(rng, plan, on, 4, (0, 1, 1.5, 2.5, 3), 0.45, spread=0.012),
    "other_plucked": lambda rng, plan, on: melody(rng, plan, on, 60, 84, 0.25),
    "bowed_strings": lambda rng, plan, on: comp(rng, plan, on, 4, (0, 2), 1.9),
    "wind": lambda rng, plan, on: melody(rng, plan, on, 62, 84),
    "other": lambda rng, plan, on: melody(rng, plan, on, 67, 91, 1.0),
    "vocals": lambda rng, plan, on: melody(rng, plan, on, 55, 72),
}
