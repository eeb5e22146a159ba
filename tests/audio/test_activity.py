import numpy as np

from apollo.audio.activity import active_segments
from apollo.params import SR
from tests.helpers.params import section

DEFAULT = section("sad.detection")  # params.yaml's


def bursts(channels: int) -> np.ndarray:
    """12 s: loud 0-6 s, silent 6-9 s, loud 9-12 s."""
    rng = np.random.default_rng(0)
    x = 0.3 * rng.standard_normal((12 * SR, channels)).astype(np.float32)
    x[6 * SR : 9 * SR] = 0
    return x


def test_windows_over_silence_are_dropped_mono_and_stereo():
    for channels in (1, 2):
        segments = active_segments(bursts(channels), SR, DEFAULT)
        # windows of 6 s every 3 s: [0,6) kept, [3,9) half silent (not > 50 %), [6,12) half silent
        assert segments == [(0, 6 * SR)]


def test_one_dimensional_input_and_silence():
    assert active_segments(bursts(1)[:, 0], SR, DEFAULT) == [(0, 6 * SR)]
    assert active_segments(np.zeros((10 * SR, 2), np.float32), SR, DEFAULT) == []
    assert active_segments(np.full((10 * SR, 2), 1e-4, np.float32), SR, DEFAULT) == []  # all frames below the floor


def test_parameters_change_the_result():
    x = bursts(2)
    loose = active_segments(x, SR, section("sad.detection", active_fraction=0.4))
    assert (3 * SR, 9 * SR) in loose and (6 * SR, 12 * SR) in loose
    short = active_segments(x, SR, section("sad.detection", window_s=3.0, hop_s=3.0))
    assert short == [(0, 3 * SR), (3 * SR, 6 * SR), (9 * SR, 12 * SR)]
