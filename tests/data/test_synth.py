import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from pathlib import Path

from apollo.data.music import PROGRAMS, STEMS, compose
from apollo.data.synth import band_level_db, catalogue, excite, make_song, programs_of, song_name
from tests.helpers.params import section

pytestmark = pytest.mark.slow  # renders with fluidsynth: a few seconds


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_song_is_deterministic_and_consistent(tmp_path):
    a = section("synth", out=str(tmp_path / "a"), seconds=8.0, seed=5)
    b = section("synth", out=str(tmp_path / "b"), seconds=8.0, seed=5)
    cat = catalogue(a)
    summary = make_song(a, 3, cat)
    make_song(b, 3, cat)
    folder = tmp_path / "a" / song_name(3)
    assert digests(folder) == digests(tmp_path / "b" / song_name(3))
    names = {p.stem for p in folder.iterdir()}
    assert "mixture" in names and names - {"mixture"} <= set(STEMS) and len(names) >= 3
    stems = [sf.read(str(p))[0] for p in folder.iterdir() if p.stem != "mixture"]
    mixture, sr = sf.read(str(folder / "mixture.flac"))
    assert sr == 44100 and mixture.shape == (8 * 44100, 2)
    assert np.abs(sum(stems) - mixture).max() < 1e-3  # the mixture is the stems' sum (16-bit rounding)
    for s in summary["stems"].values():
        assert s["hf_16_18k_db"] >= s["hf_16_18k_db_before"] - 0.5


def test_held_out_songs_use_held_out_recordings_only(tmp_path):
    """No file is both trained on and evaluated: every stem of a held-out song is a held-out recording, or a
    soundfont program training never plays; no formant singer."""
    params = section("synth", out=str(tmp_path), seconds=8.0)
    cat = catalogue(params)
    held_kits = {k.name for k in cat.kits["heldout"]} | {Path(p).stem for p in cat.sf2_kits["heldout"]}
    train_programs = {p for stem in PROGRAMS for p in programs_of(stem, "train", params)}
    sources = []
    for i in range(3):
        song = make_song(params, i, cat, "heldout")
        assert (tmp_path / "heldout" / song_name(i, "heldout") / "mixture.flac").exists()
        for stem, s in song["stems"].items():
            kind, _, name = s["source"].partition(" ")
            sources.append(kind)
            assert kind != "singer"
            if kind in ("kit", "sf2"):
                assert name in held_kits
            if kind == "soundfont" and stem not in ("drums", "percussion"):
                assert int(name) not in train_programs
    assert {"kit", "strums", "loops"} & set(sources)


def test_corpus_independent_of_workers_and_hash_seed(tmp_path):
    """Same bytes with 1 or 2 worker processes and under different PYTHONHASHSEEDs."""
    code = (
        "import sys; from apollo.data.synth import synthesize; from tests.helpers.params import section; "
        'synthesize(section("synth", out=sys.argv[1], songs=2, heldout_songs=1, seconds=3.0, workers=int(sys.argv[2])))'
    )
    runs = {}
    for name, workers, hash_seed in (("a", 1, "1"), ("b", 2, "2")):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name), str(workers)], check=True, env=env)
        runs[name] = {p.relative_to(tmp_path / name): hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in sorted((tmp_path / name).rglob("*.flac"))}  # fmt: skip
    assert runs["a"] == runs["b"] and len(runs["a"]) >= 6


def test_other_seed_other_song():
    one = compose(np.random.default_rng([1, 0]), 20.0)
    two = compose(np.random.default_rng([2, 0]), 20.0)
    assert (one.tempo, one.root, sorted(one.stems)) != (two.tempo, two.root, sorted(two.stems))


def test_exciter_reaches_its_target():
    t = np.arange(5 * 44100) / 44100
    # a sampled instrument's spectrum: harmonics of 220 Hz that stop at 8 kHz
    dull = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 37)) * 0.2
    dull = np.stack([dull, dull], 1).astype(np.float32)
    assert band_level_db(dull, 16000, 18000) < -50
    bright = excite(dull, -40.0)
    assert band_level_db(bright, 16000, 18000) == pytest.approx(-40.0, abs=3.0)
