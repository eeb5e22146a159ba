"""The codec cutoff as the model, `apollo restore` and the evaluation read it from a long-term spectrum."""

import numpy as np

from apollo.audio.spectrum import codec_cutoff

HZ = np.linspace(0, 22050, 1025)


def _decoded_mp3_level(seed: int = 0) -> np.ndarray:
    """Music falling 6 dB an octave up to a 6 kHz low-pass; above it a decoder's rounding noise 130-150 dB
    under its loudest bin, with a bump at 20.2-20.7 kHz that stands 30 dB over what lies above it."""
    rng = np.random.default_rng(seed)
    music = 40 - 6 * np.log2(np.maximum(HZ, 50) / 50)
    level = np.where(HZ < 6000, music, -90 - 20 * rng.random(HZ.size))
    level[(HZ >= 20200) & (HZ < 20700)] = -80
    level[HZ >= 20700] = -110
    return level


def test_rounding_noise_in_the_empty_band_is_no_cut():
    level = _decoded_mp3_level()
    assert abs(codec_cutoff(level, 44100) - 6000) < 150
    # the same spectrum read with no floor (as the corpus reads a source file): the bump passes for a cut
    assert codec_cutoff(level, 44100, range_db=None) > 20000


def test_music_that_runs_on_to_the_top_shows_no_cut():
    """Music that runs on to 21.5 kHz, however quiet its top: no cut, with or without the floor."""
    level = 40 - 10 * np.log2(np.maximum(HZ, 50) / 50)  # 88 dB down by 21.5 kHz, no edge anywhere
    assert codec_cutoff(level, 44100) is None
    assert codec_cutoff(level, 44100, range_db=None) is None


def test_the_cut_of_a_dark_recording_is_found_under_the_floor_of_its_noise():
    """A dark recording (sonic-pi's tabla at 48 kbps): its music at the 11 kHz cut lies 91 dB under the
    loudest bin, its empty band 140 dB under. The floor must sit under such a cut, not on it."""
    music = 40 - 91 * np.log2(np.maximum(HZ, 50) / 50) / np.log2(11000 / 50)  # 40 dB at 50 Hz, -51 at 11 kHz
    level = np.where(HZ < 11000, music, -100.0)
    assert abs(codec_cutoff(level, 44100) - 11000) < 150
