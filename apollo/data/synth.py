"""Stage `synth`: the embedded default corpus of multi-stem songs, made of real recordings where there are some.

Each song (see ``music.py`` for the composition) is rendered stem by stem:

* drums: a groove through a real kit (a Hydrogen kit's multi-velocity one-shots, or an AVL drum kit's
  SF2 through fluidsynth), else the General MIDI kit; percussion through the hand-percussion kit or
  recorded hits;
* guitar: recorded strums on the song's chords, or a soundfont guitar; ``other``: recorded loops played as
  they are, or a soundfont instrument;
* every other pitched part through the General MIDI soundfont (``synth.soundfont``: MuseScore General,
  lossless samples), a fresh fluidsynth per song, reset between stems;
* vocals from a small formant singer in numpy: the one source with no real high band, so only it gets the
  harmonic exciter, at a 16-18 kHz level that follows its own 8-12 kHz content.

A rendered stem whose spectrum shows a band limit (``recorded.band_limit_hz``: a band-limited soundfont
sample, most flutes) is rendered again with another program, or left out; the summary counts both.
Training songs use the ``train`` half of the real material; ``heldout_songs`` more songs, written under
``<out>/heldout/``, use only the held-out half and only real recordings (no singer, no fallback): the
evaluation's real mixtures. Output: ``<out>/<song>/<stem>.flac`` and ``mixture.flac`` (their exact sum),
44.1 kHz stereo, plus ``summary.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from apollo import paths
from apollo.data import recorded
from apollo.data.music import PROGRAMS, Note, Plan, bar_spans, compose
from apollo.files import write_json
from apollo.parallel import map_progress
from apollo.params import SR, SynthParams

HELDOUT = paths.HELDOUT  # the held-out songs: <out>/heldout/<song>/, and their material's split name
FALLBACK_TRIES = 3  # programs tried for a pitched stem before it is left out as band-limited
VOWELS = {  # formant (Hz, bandwidth Hz, gain) triples, roughly a tenor
    "a": ((700, 110, 1.0), (1220, 120, 0.5), (2600, 160, 0.25), (3300, 250, 0.1)),
    "e": ((400, 70, 1.0), (2000, 110, 0.4), (2550, 150, 0.3), (3300, 250, 0.1)),
    "i": ((300, 60, 1.0), (2300, 120, 0.3), (3000, 180, 0.25), (3600, 250, 0.1)),
    "o": ((450, 80, 1.0), (800, 90, 0.5), (2800, 160, 0.15), (3300, 250, 0.05)),
    "u": ((325, 60, 1.0), (700, 80, 0.3), (2530, 170, 0.1), (3300, 250, 0.05)),
}




def song_name(index: int, split: str = "train") -> str:
    return f"song_{index:03d}" if split == "train" else f"heldout_{index:03d}"


def band_level_db(audio: np.ndarray, lo: float, hi: float, sr: int = SR) -> float:
    """Energy in [lo, hi) Hz relative to the whole band, in dB (-inf-safe)."""
    spec = np.square(np.abs(np.fft.rfft(audio, axis=0))).sum(-1)
    freqs = np.fft.rfftfreq(len(audio), 1 / sr)
    band = spec[(freqs >= lo) & (freqs < hi)].sum()
    return float(10 * np.log10((band + 1e-20) / (spec.sum() + 1e-20)))


def excite(audio: np.ndarray, target_db: float, sr: int = SR) -> np.ndarray:
    """Add harmonics generated from the 3+ kHz band (full-wave rectified), high-passed at 12 kHz,
    scaled so the 16-18 kHz band sits near `target_db` re the full band (gain capped at +30 dB)."""
    hp = signal.sosfilt(signal.butter(4, 3000, "hp", fs=sr, output="sos"), audio, axis=0)
    harmonics = signal.sosfilt(signal.butter(6, 12000, "hp", fs=sr, output="sos"), np.abs(hp), axis=0)
    freqs = np.fft.rfftfreq(len(audio), 1 / sr)
    in_band = (freqs >= 16000) & (freqs < 18000)
    total = np.square(np.abs(np.fft.rfft(audio, axis=0))).sum() + 1e-20
    band = np.square(np.abs(np.fft.rfft(harmonics, axis=0)))[in_band].sum() + 1e-20
    gain = min(np.sqrt(10 ** (target_db / 10) * total / band), 10**1.5)
    return (audio + gain * harmonics).astype(np.float32)


def render_midi(fs, sfid: int, notes: list[Note], program: int, drums: bool, length: int, pan: int) -> np.ndarray:
    """Render notes with a loaded pyfluidsynth Synth: (length, 2) float32."""
    fs.system_reset()
    channel = 9 if drums else 0
    if not drums:
        fs.program_select(channel, sfid, 0, program)
    else:
        fs.program_select(channel, sfid, 128, 0)
    fs.cc(channel, 10, pan)
    events = sorted(
        [(int(n.start * SR), 1, n.pitch, n.velocity) for n in notes]
        + [(int((n.start + n.duration) * SR), 0, n.pitch, 0) for n in notes]
    )  # note-offs before note-ons at the same sample
    out, pos = [], 0
    for when, on, pitch, velocity in events:
        when = min(when, length)
        if when > pos:
            out.append(fs.get_samples(when - pos))
            pos = when
        if on:
            fs.noteon(channel, pitch, velocity)
        else:
            fs.noteoff(channel, pitch)
    if pos < length:
        out.append(fs.get_samples(length - pos))
    audio = np.concatenate(out).astype(np.float32).reshape(-1, 2) / 32768.0
    return audio[:length]


def sing(notes: list[Note], length: int, rng: np.random.Generator) -> np.ndarray:
    """A formant singer: band-limited glottal source with vibrato through vowel formants, plus breath."""
    out = np.zeros(length, np.float32)
    for n in notes:
        start, count = int(n.start * SR), int(n.duration * SR)
        count = min(count, length - start)
        if count <= 64:
            continue
        t = np.arange(count) / SR
        vibrato = 1 + 0.007 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 6.28)) * np.clip(t / 0.25, 0, 1)
        f0 = 440.0 * 2 ** ((n.pitch - 69) / 12) * vibrato
        phase = 2 * np.pi * np.cumsum(f0) / SR
        harmonics = int(min(40, 0.45 * SR / f0.max()))
        source = sum(np.sin(k * phase) / k**1.2 for k in range(1, harmonics + 1))
        voiced = np.zeros(count)
        for freq, bw, gain in VOWELS[str(rng.choice(list(VOWELS)))]:
            r = np.exp(-np.pi * bw / SR)
            a = [1, -2 * r * np.cos(2 * np.pi * freq / SR), r * r]
            voiced += gain * signal.lfilter([1 - r], a, source)
        breath = signal.lfilter([1, -0.95], [1], rng.standard_normal(count)) * 0.02
        envelope = np.minimum(np.clip(t / 0.03, 0, 1), np.clip((t[-1] - t) / 0.06, 0, 1)) * n.velocity / 127
        out[start : start + count] += (envelope * (voiced + breath)).astype(np.float32)
    return np.repeat(out[:, None], 2, axis=1)


class Renderer:
    """One song's fluidsynth (General MIDI soundfont, plus the SF2 drum kits on demand)."""

    def __init__(self, soundfont: str):
        import fluidsynth  # imported here: worker processes each load their own library state

        self.fs = fluidsynth.Synth(samplerate=float(SR), gain=0.5)
        self.fs.setting("synth.reverb.active", 0)  # dry stems; reverb tails would blur SAD's gaps
        self.fs.setting("synth.chorus.active", 0)
        self.fonts: dict[str, int] = {}
        self.gm = self.font(soundfont)

    def font(self, path: str) -> int:
        if path not in self.fonts:
            sfid = self.fs.sfload(path)
            if sfid < 0:
                raise RuntimeError(f"cannot load soundfont {path}")
            self.fonts[path] = sfid
        return self.fonts[path]

    def close(self) -> None:
        self.fs.delete()


def programs_of(stem: str, split: str, params: SynthParams) -> list[int]:
    """General MIDI programs a stem may use in a split: held-out songs play programs training never hears."""
    programs = list(PROGRAMS.get(stem, (0,)))
    train = [p for p in programs if recorded.split_of(f"gm{p}", params.split_seed, params.heldout_fraction) == "train"]
    train = train or programs  # a stem whose programs all hashed to held out keeps them for training
    return train if split == "train" else [p for p in programs if p not in train]


def render_stem(r: Renderer, stem: str, plan: Plan, cat, split: str, params: SynthParams, length: int,
                rng: np.random.Generator, counts: dict) -> tuple[np.ndarray | None, str]:
    """One stem's audio and where it came from ("kit <name>", "strums", ...), or (None, why) when left out."""
    notes, on, real = plan.stems[stem], plan.sections[stem], rng.random() < params.real_prob or split == HELDOUT
    kits = cat.kits[split]
    drum_kits = [("kit", k) for k in kits if {"kick", "snare"} <= set(k.roles)] + [("sf2", f) for f in cat.sf2_kits[split]]
    if stem == "drums" and real and drum_kits:
        kind, kit = drum_kits[int(rng.integers(len(drum_kits)))]
        if kind == "kit":
            return recorded.render_kit(kit, notes, length, rng), f"kit {kit.name}"
        return render_midi(r.fs, r.font(kit), notes, 0, False, length, 64), f"sf2 {Path(kit).stem}"
    if stem == "percussion" and real:
        hand = [k for k in kits if "perc" in k.roles]
        if hand and rng.random() < 0.5 or hand and not cat.hits[split]:
            kit = hand[int(rng.integers(len(hand)))]
            return recorded.render_kit(kit, notes, length, rng), f"kit {kit.name}"
        if cat.hits[split]:
            return recorded.render_hits(cat.hits[split], notes, length, rng), "hits"
    if stem == "guitar" and real and cat.strums[split]:
        chords = [(t0, ch, plan.beat) for t0, _, ch, _ in bar_spans(plan, on)]
        return recorded.render_strums(cat.strums[split], chords, length, rng), "strums"
    if stem == "other" and real and cat.loops[split]:
        spans = [(t0, t0 + 4 * plan.beat) for t0, _, _, _ in bar_spans(plan, on)]
        return recorded.render_loops(cat.loops[split], spans, length, rng), "loops"
    if stem == "vocals":
        return (None, "synthetic") if split == HELDOUT else (sing(notes, length, rng), "singer")
    if split == HELDOUT and stem in ("drums", "percussion"):
        return None, "no held-out kit"
    drums = stem in ("drums", "percussion")
    candidates = [0] if drums else programs_of(stem, split, params)
    if not candidates:
        return None, "no held-out program"
    rng.shuffle(candidates)
    pan = 64 if stem in ("bass", "drums") else int(rng.integers(30, 98))
    for program in ([plan.programs[stem]] if plan.programs[stem] in candidates else []) + candidates[:FALLBACK_TRIES]:
        audio = render_midi(r.fs, r.gm, notes, program, drums, length, pan)
        cut = recorded.band_limit_hz(audio, SR, params.band_limit_db)
        if cut is None:
            return audio, f"soundfont {program}"
        counts["band_limited_renders"] = counts.get("band_limited_renders", 0) + 1
    return None, "band-limited"


def make_song(params: SynthParams, index: int, cat=None, split: str = "train") -> dict:
    """Compose, render, excite, level and write one song; returns its summary."""
    cat = cat if cat is not None else catalogue(params)
    rng = np.random.default_rng([params.seed, index] if split == "train" else [params.seed, 1, index])
    length = int(params.seconds * SR)
    plan = compose(rng, params.seconds)
    summary = {"tempo": plan.tempo, "key": f"{plan.root}{plan.mode[:3]}", "stems": {}, "left_out": {}, "counts": {}}
    r = Renderer(params.soundfont)
    stems = {}
    try:
        for name in plan.stems:
            audio, source = render_stem(r, name, plan, cat, split, params, length, rng, summary["counts"])
            if audio is None or np.abs(audio).max() < 1e-6:
                summary["left_out"][name] = source if audio is None else "silent"
                continue
            rms = np.sqrt(np.mean(np.square(audio))) + 1e-12
            audio = audio * (10 ** (rng.uniform(-24, -16) / 20) / rms)  # stem level in the mix
            before = band_level_db(audio, 16000, 18000)
            if params.exciter and source == "singer":  # no real high band: one that follows its 8-12 kHz
                audio = excite(audio, band_level_db(audio, 8000, 12000) + rng.uniform(-16, -8))
            stems[name] = audio
            summary["stems"][name] = {"source": source, "hf_16_18k_db_before": round(before, 1),
                                      "hf_16_18k_db": round(band_level_db(audio, 16000, 18000), 1),
                                      "hf_16_20k_db": round(band_level_db(audio, 16000, 20000), 1)}  # fmt: skip
    finally:
        r.close()
    if not stems:
        return summary
    mixture = sum(stems.values())
    scale = min(1.0, 0.9 / (np.abs(mixture).max() + 1e-9))  # one factor for all: mixture stays their sum
    folder = Path(params.out) / (HELDOUT if split == HELDOUT else "") / song_name(index, split)
    folder.mkdir(parents=True, exist_ok=True)
    for name, audio in list(stems.items()) + [("mixture", mixture)]:
        sf.write(str(folder / f"{name}.flac"), (audio * scale).astype(np.float32), SR, subtype="PCM_16")
    return summary


def catalogue(params: SynthParams) -> recorded.Catalogue:
    return recorded.build_catalogue(params.drumkits, tuple(params.drum_soundfonts), params.samples,
                                    params.split_seed, params.heldout_fraction, params.band_limit_db)  # fmt: skip


def _make_song(job) -> dict:
    return make_song(*job)


def _levels(values: list[float]) -> dict:
    q = np.percentile(values, [10, 50, 90]) if values else [float("nan")] * 3
    return {"n": len(values), "p10": round(float(q[0]), 1), "median": round(float(q[1]), 1), "p90": round(float(q[2]), 1)}


def synthesize(params: SynthParams) -> dict:
    """Render the whole corpus and the held-out songs (in parallel) and write ``summary.json``."""
    out = Path(params.out)
    out.mkdir(parents=True, exist_ok=True)
    cat = catalogue(params)
    jobs = [(params, i, cat, "train") for i in range(params.songs)]
    jobs += [(params, i, cat, HELDOUT) for i in range(params.heldout_songs)]
    songs = map_progress(_make_song, jobs, params.workers, "synth")
    per_stem: dict[str, list[float]] = {}
    sources: dict[str, int] = {}
    left_out: dict[str, int] = {}
    renders = 0
    for (_, _, _, split), song in zip(jobs, songs):
        for name, s in song["stems"].items():
            if split == "train":
                per_stem.setdefault(name, []).append(s["hf_16_20k_db"])
            kind = s["source"].split(" ")[0]
            sources[f"{split}/{kind}"] = sources.get(f"{split}/{kind}", 0) + 1
        for why in song["left_out"].values():
            left_out[why] = left_out.get(why, 0) + 1
        renders += song["counts"].get("band_limited_renders", 0)
    reference = [band_level_db(recorded.load(p), 16000, 20000) for p in sorted(cat.loops["train"] + cat.loops[HELDOUT])]
    summary = {
        "songs": {song_name(i, split): s for (_, i, _, split), s in zip(jobs, songs)},
        "stem_counts": {k: len(v) for k, v in sorted(per_stem.items())},
        "hf_16_18k_db_mean": {k: round(float(np.mean([song["stems"][k]["hf_16_18k_db"] for (_, _, _, sp), song in
                                                       zip(jobs, songs) if sp == "train" and k in song["stems"]])), 1)
                              for k in sorted(per_stem)},  # fmt: skip
        "hf_16_20k_db": {k: _levels(v) for k, v in sorted(per_stem.items())},
        "hf_16_20k_db_real_recordings": _levels(reference),
        "stem_sources": dict(sorted(sources.items())),
        "stems_left_out": dict(sorted(left_out.items())),
        "band_limited_renders": renders,
        "material": {split: {"kits": sorted(k.name for k in cat.kits[split]),
                             "sf2_kits": sorted(Path(p).name for p in cat.sf2_kits[split]),
                             "strum_files": sum(len(v) for v in cat.strums[split].values()),
                             "loops": len(cat.loops[split]), "hits": len(cat.hits[split])}
                     for split in recorded.SPLIT_NAMES},  # fmt: skip
        "band_limited_files": len(cat.band_limited),
        "band_limited": sorted(cat.band_limited),
    }
    write_json(out / paths.SUMMARY, summary)
    write_json(out / paths.RECORDINGS, {split: sorted(cat.files(split)) for split in recorded.SPLIT_NAMES})
    return summary
