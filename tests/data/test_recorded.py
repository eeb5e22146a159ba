import numpy as np
import pytest
from scipy import signal

from apollo.data import recorded
from apollo.data.music import Note
from apollo.data.recorded import Kit, Layer, band_limit_hz, parse_chord, render_kit, role_of, split_of
from tests.helpers.audio import noise, write
from tests.helpers.params import section

SR = 44100


def test_band_limit_is_found_in_low_passed_sources_only():
    white = noise(3.0, seed=1) * 0.3
    assert band_limit_hz(white) is None
    sos = signal.butter(6, 2000, "lp", fs=SR, output="sos")  # a dark but natural roll-off: no edge
    assert band_limit_hz(signal.sosfilt(sos, white, axis=0)) is None
    lossy = signal.sosfilt(signal.ellip(10, 0.5, 80, 15000, "lp", fs=SR, output="sos"), white, axis=0)
    assert band_limit_hz(lossy) == pytest.approx(15000, abs=1000)  # an encoder's low-pass
    resampled = signal.sosfilt(signal.ellip(10, 0.5, 80, 20600, "lp", fs=SR, output="sos"), white, axis=0)
    assert band_limit_hz(resampled) is None  # a converter's anti-alias filter is not a band limit


def test_split_is_a_stable_seeded_hash():
    names = [f"file_{i}.flac" for i in range(400)]
    splits = [split_of(n, 0, 0.3) for n in names]
    assert 0.2 < splits.count("heldout") / len(names) < 0.4
    assert splits == [split_of(n, 0, 0.3) for n in names]
    assert splits != [split_of(n, 1, 0.3) for n in names]


def test_names_map_to_roles_and_chords():
    assert role_of("Pearl Kick") == "kick" and role_of("c3 - bass drum 1") == "kick"
    assert role_of("Hi-Hat Open (Paiste)") == "hat_open" and role_of("Sabian Hat Closed") == "hat_closed"
    assert role_of("Snare Roll") is None and role_of("Tom Low") == "tom" and role_of("Maraca") == "perc"
    assert parse_chord("Fsharp minor_DOWN_02") == (6, "minor", "down")
    assert parse_chord("Bflat major_UP_00") == (10, "major", "up") and parse_chord("Amajor_01") == (9, "major", "down")
    assert parse_chord("Eminor7b5_UP_00") is None


def test_kit_velocity_picks_the_layer(tmp_path):
    soft, hard = tmp_path / "soft.wav", tmp_path / "hard.wav"
    write(soft, np.full((100, 2), 0.1, np.float32))
    write(hard, np.full((100, 2), -0.5, np.float32))
    kit = Kit("k", {"kick": ((Layer(0.0, 0.5, 1.0, str(soft)), Layer(0.5, 1.0, 1.0, str(hard))),)})
    rng = np.random.default_rng(0)
    out = render_kit(kit, [Note(0.1, 0.1, 36, 30), Note(0.5, 0.1, 36, 127)], SR, rng)
    first, second = out[int(0.08 * SR) : int(0.13 * SR)], out[int(0.48 * SR) : int(0.53 * SR)]
    assert first.max() > 0 and first.min() >= 0  # the soft layer (positive), quietly
    assert second.min() < -0.3 and second.max() <= 0  # the hard layer (negative), at full velocity


@pytest.mark.slow
def test_the_installed_material_splits_disjointly_and_kits_stay_whole():
    params = section("synth")
    cat = recorded.build_catalogue(params.drumkits, tuple(params.drum_soundfonts), params.samples,
                                   params.split_seed, params.heldout_fraction, params.band_limit_db)  # fmt: skip
    train, heldout = cat.files("train"), cat.files("heldout")
    assert len(train) > 500 and len(heldout) > 100
    assert not train & heldout
    kit_folders = {s: {p.split("/drumkits/")[1].split("/")[0] for p in files if "/drumkits/" in p and
                       recorded.STRUM_KIT not in p} for s, files in (("train", train), ("heldout", heldout))}  # fmt: skip
    assert kit_folders["train"] and kit_folders["heldout"] and not kit_folders["train"] & kit_folders["heldout"]
    assert not any("circAfrique" in p for p in train | heldout)
    assert cat.band_limited and all(p.split(":")[0] not in train | heldout for p in cat.band_limited)
