import numpy as np
import pytest
import soundfile as sf

from apollo.restore import ChunkPlan, restore_array, restore_file
from tests.conftest import tiny_model, write_tone


@pytest.mark.parametrize("causal", [False, True])
def test_chunked_equals_whole_file(causal):
    model = tiny_model(causal=causal)
    rng = np.random.default_rng(0)
    audio = (0.2 * rng.standard_normal((3 * 44100 + 123, 2))).astype(np.float32)
    whole = restore_array(model, audio, chunk_seconds=100)
    plan = ChunkPlan.for_model(model, 1.0)
    assert plan.past >= model.config.receptive_frames[0] * model.config.hop
    chunked = restore_array(model, audio, chunk_seconds=1.0)  # 3+ chunks, 2+ seams
    assert chunked.shape == audio.shape
    assert np.abs(chunked - whole).max() < 1e-5


def test_short_input_is_padded_then_trimmed():
    out = restore_array(tiny_model(), np.zeros((100, 1), np.float32))
    assert out.shape == (100, 1)


def test_restore_file_resamples_and_writes_atomically(tmp_path):
    src = tmp_path / "in.wav"
    write_tone(src, seconds=1.0, sr=48000, channels=1)
    dst = tmp_path / "out.flac"
    frames = restore_file(tiny_model(), src, dst, subtype="PCM_24")
    info = sf.info(str(dst))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (44100, 1, "PCM_24", frames)
    assert abs(frames - 44100) <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.flac"]


def test_failure_leaves_no_partial_output(tmp_path):
    src = tmp_path / "nan.wav"
    audio = write_tone(src, seconds=2.0)
    audio[60000] = np.nan
    sf.write(str(src), audio, 44100, subtype="FLOAT")
    with pytest.raises(Exception, match="NaN"):
        restore_file(tiny_model(), src, tmp_path / "out.wav", chunk_seconds=1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.wav"]
