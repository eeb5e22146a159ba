import numpy as np
import pytest
import soundfile as sf
import torch

from apollo.restore import ChunkPlan, RestoreError, restore_array, restore_file, restore_stream
from tests.helpers.audio import band_db, holed_noise, write_tone
from tests.helpers.params import tiny_model


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


def test_interrupt_leaves_the_old_output_and_no_temporary(tmp_path):
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    write_tone(src, seconds=3.0)
    dst.write_bytes(b"old output")

    def interrupt(n):  # Ctrl-C (SIGINT) during the second chunk
        if interrupt.calls:
            raise KeyboardInterrupt
        interrupt.calls += 1

    interrupt.calls = 0
    with pytest.raises(KeyboardInterrupt):
        restore_file(tiny_model(), src, dst, chunk_seconds=1.0, progress=interrupt)
    assert dst.read_bytes() == b"old output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]


def test_two_restores_to_one_output_do_not_collide(tmp_path):
    """The second starts while the first is writing: each has its own temporary, and the last to finish wins whole."""
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    write_tone(src, seconds=3.0)
    model = tiny_model()
    temporaries = []

    def start_another(n):
        temporaries.append(sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")))
        if len(temporaries) == 1:
            restore_file(model, src, dst, chunk_seconds=1.0, subtype="PCM_16")

    first = restore_file(model, src, dst, chunk_seconds=1.0, progress=start_another)
    assert len(temporaries[1]) == 1  # the first restore's temporary, while the second ran
    info = sf.info(str(dst))
    assert (info.subtype, info.frames) == ("FLOAT", first)  # the first finished last
    assert np.isfinite(sf.read(str(dst))[0]).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]


def test_progress_moves_within_a_model_call_and_sums_to_the_length():
    model = tiny_model()
    audio = np.zeros((2 * 44100 + 77, 2), np.float32)
    plan = ChunkPlan.for_model(model, 1.0)
    ticks = []
    blocks = list(restore_stream(model, lambda s, n: audio[s : s + n], len(audio), plan, ticks.append))
    assert sum(ticks) == len(audio) == sum(map(len, blocks))
    assert len(ticks) > 2 * len(blocks)  # several per chunk: one per tile of each band RoFormer


@pytest.mark.parametrize("damage, message", [("nan", "NaN or Inf"), ("huge", "peaks at")])
def test_an_output_that_is_not_audio_is_refused_and_nothing_written(tmp_path, damage, message):
    """Weights damaged after loading (load_generator refuses damaged files): the output is checked too."""
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    write_tone(src, seconds=1.0)
    model = tiny_model()
    with torch.no_grad():
        bias = model.decoder.bias[0]
        bias.fill_(float("nan")) if damage == "nan" else bias.mul_(1e6).add_(1e6)
    with pytest.raises(RestoreError, match=message):  # a tone shows no cutoff: the model's output everywhere
        restore_file(model, src, dst, chunk_seconds=1.0, keep_passband=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_the_passband_below_the_codec_cutoff_is_the_inputs_own():
    """With the passband kept, below the MP3's cutoff the output equals the input (the model's changes there
    are gone), above it the model's band stays; chunked or whole, the result is the same."""
    from apollo.audio.codec import degrade
    from apollo.metrics import power_spectrogram

    rng = np.random.default_rng(0)
    clean = (rng.standard_normal((3 * 44100, 1)) * 0.2).astype(np.float32)
    mp3, _, _ = degrade(clean, 44100, "mp3", 64)
    model = tiny_model(seed=3)  # random weights: it changes every band
    kept = restore_array(model, mp3, chunk_seconds=100)
    free = restore_array(model, mp3, chunk_seconds=100, keep_passband=False)
    p_in, p_kept, p_free = (power_spectrogram(x.T)[0].mean(0) for x in (mp3, kept, free))
    bins = np.fft.rfftfreq(2048, 1 / 44100)
    low, high = bins < 9000, bins > 18000
    assert np.abs(10 * np.log10(p_kept[low] / p_in[low])).max() < 0.5
    assert np.abs(10 * np.log10(p_free[low] / p_in[low])).max() > 3  # the random model does colour it
    assert np.allclose(p_kept[high], p_free[high], rtol=0.3)  # its high band is left
    chunked = restore_array(model, mp3, chunk_seconds=1.0)
    assert np.abs(chunked - kept).max() < 1e-4


def test_chunked_equals_whole_file_with_holes_filled():
    """The hole fill's phases follow the file's frames, not the chunk's: chunking still changes nothing, and
    the band the codec zeroed comes back about 60 dB under the music instead of 120."""
    model = tiny_model(cutoff_reference_hz=2000.0, hole_gate_db=-80.0, hole_level_db=-60.0)
    audio = holed_noise(3.0, channels=2)
    whole = restore_array(model, audio, chunk_seconds=100)
    chunked = restore_array(model, audio, chunk_seconds=1.0)
    assert np.abs(chunked - whole).max() < 1e-5
    assert band_db(whole, 3200, 3800) > band_db(audio, 3200, 3800) + 40
    assert band_db(whole, 3200, 3800) < band_db(audio, 1000, 2000) - 50
