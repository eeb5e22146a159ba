"""Stage `synth`: the embedded default corpus of procedurally generated multi-stem songs.

Each song (see ``music.py`` for the composition) is rendered stem by stem with
fluidsynth and a General MIDI soundfont -- a fresh synth per song, reset
between stems, since a reused synth leaks voices and controller state between
renders -- except vocals, which come from a small formant singer in numpy.
Sampled instruments carry almost nothing above 16 kHz, yet MP3 restoration is
about that band, so a harmonic exciter gives every stem realistic 16-20 kHz
content towards a per-stem target level. Output: ``<out>/<song>/<stem>.flac``
and ``mixture.flac`` (their exact sum), 44.1 kHz stereo, plus ``summary.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from apollo import paths
from apollo.data.music import Note, Plan, compose
from apollo.files import write_json
from apollo.parallel import map_progress
from apollo.params import SR, SynthParams

# 16-18 kHz level relative to the stem's full band (dB) that the exciter aims for
HF_TARGET_DB = {
    "bass": -62, "bowed_strings": -46, "drums": -30, "guitar": -44, "other": -40, "other_keys": -46,
    "other_plucked": -40, "percussion": -28, "piano": -48, "vocals": -44, "wind": -42,
}  # fmt: skip
VOWELS = {  # formant (Hz, bandwidth Hz, gain) triples, roughly a tenor
    "a": ((700, 110, 1.0), (1220, 120, 0.5), (2600, 160, 0.25), (3300, 250, 0.1)),
    "e": ((400, 70, 1.0), (2000, 110, 0.4), (2550, 150, 0.3), (3300, 250, 0.1)),
    "i": ((300, 60, 1.0), (2300, 120, 0.3), (3000, 180, 0.25), (3600, 250, 0.1)),
    "o": ((450, 80, 1.0), (800, 90, 0.5), (2800, 160, 0.15), (3300, 250, 0.05)),
    "u": ((325, 60, 1.0), (700, 80, 0.3), (2530, 170, 0.1), (3300, 250, 0.05)),
}




def song_name(index: int) -> str:
    return f"song_{index:03d}"


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


def render_song(plan: Plan, length: int, soundfont: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    import fluidsynth  # imported here: worker processes each load their own library state

    fs = fluidsynth.Synth(samplerate=float(SR), gain=0.5)
    try:
        fs.setting("synth.reverb.active", 0)  # dry stems; reverb tails would blur SAD's gaps
        fs.setting("synth.chorus.active", 0)
        sfid = fs.sfload(soundfont)
        if sfid < 0:
            raise RuntimeError(f"cannot load soundfont {soundfont}")
        stems = {}
        for stem, notes in plan.stems.items():
            if stem == "vocals":
                stems[stem] = sing(notes, length, rng)
            else:
                pan = 64 if stem in ("bass", "drums") else int(rng.integers(30, 98))
                drums = stem in ("drums", "percussion")
                stems[stem] = render_midi(fs, sfid, notes, plan.programs[stem], drums, length, pan)
        return stems
    finally:
        fs.delete()


def make_song(params: SynthParams, index: int) -> dict:
    """Compose, render, excite, level and write one song; returns its summary."""
    rng = np.random.default_rng([params.seed, index])
    length = int(params.seconds * SR)
    plan = compose(rng, params.seconds)
    stems = render_song(plan, length, params.soundfont, rng)
    summary = {"tempo": plan.tempo, "key": f"{plan.root}{plan.mode[:3]}", "stems": {}}
    for name, audio in stems.items():
        rms = np.sqrt(np.mean(np.square(audio))) + 1e-12
        audio = audio * (10 ** (rng.uniform(-24, -16) / 20) / rms)  # stem level in the mix
        before = band_level_db(audio, 16000, 18000)
        if params.exciter:
            audio = excite(audio, HF_TARGET_DB[name] + rng.uniform(-3, 3))
        stems[name] = audio
        summary["stems"][name] = {"hf_16_18k_db_before": round(before, 1), "hf_16_18k_db": round(band_level_db(audio, 16000, 18000), 1)}
    mixture = sum(stems.values())
    scale = min(1.0, 0.9 / (np.abs(mixture).max() + 1e-9))  # one factor for all: mixture stays their sum
    folder = Path(params.out) / song_name(index)
    folder.mkdir(parents=True, exist_ok=True)
    for name, audio in list(stems.items()) + [("mixture", mixture)]:
        sf.write(str(folder / f"{name}.flac"), (audio * scale).astype(np.float32), SR, subtype="PCM_16")
    return summary


def _make_song(job: tuple[SynthParams, int]) -> dict:
    return make_song(*job)


def synthesize(params: SynthParams) -> dict:
    """Render the whole corpus (in parallel) and write ``summary.json``."""
    out = Path(params.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(params, i) for i in range(params.songs)]
    songs = map_progress(_make_song, jobs, params.workers, "synth")
    per_stem: dict[str, list[float]] = {}
    for song in songs:
        for name, s in song["stems"].items():
            per_stem.setdefault(name, []).append(s["hf_16_18k_db"])
    summary = {
        "songs": {song_name(i): s for i, s in enumerate(songs)},
        "stem_counts": {k: len(v) for k, v in sorted(per_stem.items())},
        "hf_16_18k_db_mean": {k: round(float(np.mean(v)), 1) for k, v in sorted(per_stem.items())},
    }
    write_json(out / paths.SUMMARY, summary)
    return summary
