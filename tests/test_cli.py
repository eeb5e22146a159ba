"""The CLI as a user meets it: real subprocesses, one-line errors, nothing written on bad input."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import json

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from safetensors.torch import save_file

from apollo.checkpoint import save_generator
from apollo.config import PROJECT as ROOT
from apollo.config import layer, read_raw
from tests.helpers.audio import write_tone
from tests.helpers.disk import small_disk
from tests.helpers.params import tiny_model

pytestmark = pytest.mark.slow  # real subprocesses: a second or two each


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_generator(tiny_model(), path)
    return path


def apollo(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "apollo", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd
    )


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def assert_user_error(res, pattern: str):
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert "Traceback" not in res.stderr
    assert pattern in lines[0], lines[0]


def test_restore_wav_default_output(tmp_path, ckpt):
    src = tmp_path / "song.wav"
    write_tone(src, seconds=1.5)
    res = apollo("restore", src, "--checkpoint", ckpt, "--chunk-seconds", "1")
    assert res.returncode == 0, res.stderr
    out = tmp_path / "song.restored.wav"
    data, sr = sf.read(str(out))
    assert sr == 44100 and data.shape == (int(1.5 * 44100), 2)
    assert sf.info(str(out)).subtype == "FLOAT"


def encode(wav: Path, dst: Path, *codec_args: str) -> None:
    """Encode a test file with the ffmpeg that scripts/setup.sh installs."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is installed by scripts/setup.sh; run it first")
    subprocess.run(["ffmpeg", "-v", "error", "-i", wav, *codec_args, dst], check=True)


def test_restore_mp3_and_m4a_into_folder(tmp_path, ckpt):
    wav = tmp_path / "a.wav"
    write_tone(wav, seconds=1.0)
    encode(wav, tmp_path / "a.mp3", "-b:a", "64k")
    encode(wav, tmp_path / "b.m4a", "-c:a", "aac")
    out = tmp_path / "out"
    out.mkdir()
    res = apollo("restore", tmp_path / "a.mp3", tmp_path / "b.m4a", "-o", out, "-c", ckpt, "--format", "flac")
    assert res.returncode == 0, res.stderr
    assert listing(out) == ["a.restored.flac", "b.restored.flac"]
    for name in listing(out):
        info = sf.info(str(out / name))
        assert info.samplerate == 44100 and info.subtype == "PCM_24" and info.frames > 40000


def test_m4a_without_ffmpeg_says_so(tmp_path, ckpt):
    wav = tmp_path / "a.wav"
    write_tone(wav, seconds=0.5)
    encode(wav, tmp_path / "b.m4a", "-c:a", "aac")
    bare = tmp_path / "bin"
    bare.mkdir()
    env = dict(os.environ, PATH=str(bare))
    res = apollo("restore", tmp_path / "b.m4a", "-c", ckpt, env=env)
    assert_user_error(res, "install ffmpeg")
    assert listing(tmp_path) == ["a.wav", "b.m4a", "bin"]


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list, str]]:
    good = tmp_path / "good.wav"
    write_tone(good, seconds=1.0)
    (tmp_path / "notes.txt").write_text("not audio at all\n" * 100)
    (tmp_path / "empty.wav").write_bytes(b"")
    sf.write(str(tmp_path / "zero.wav"), np.zeros((0, 2), np.float32), 44100)
    nan = np.zeros((44100, 2), np.float32)
    nan[30000, 1] = np.inf
    sf.write(str(tmp_path / "inf.wav"), nan, 44100, subtype="FLOAT")
    write_tone(tmp_path / "long.flac", seconds=3.0)
    data = (tmp_path / "long.flac").read_bytes()
    (tmp_path / "truncated.flac").write_bytes(data[: len(data) // 2])
    # a WAV whose data chunk ends before its header says (libsndfile reads what is there, silently)
    data = (tmp_path / "good.wav").read_bytes()
    (tmp_path / "short.wav").write_bytes(data[: len(data) * 2 // 3])
    # an MP3 cut in half: its Xing header still counts the whole (and mpg123 would warn on stderr)
    write_tone(tmp_path / "whole.wav", seconds=3.0)
    encode(tmp_path / "whole.wav", tmp_path / "whole.mp3", "-b:a", "128k")
    data = (tmp_path / "whole.mp3").read_bytes()
    (tmp_path / "cut.mp3").write_bytes(data[: len(data) // 2])
    (tmp_path / "exists.wav").write_bytes(b"keep me")
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 64)
    # our format, with a tensor of the wrong shape, and with config metadata that does not match the tensors
    model = tiny_model()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    config = model.config.to_dict()
    save_file({**state, "band_nets.0.norm": torch.zeros(3, 3)}, str(tmp_path / "shape.safetensors"),
              metadata={"format": "apollo-restore", "config": json.dumps(config)})  # fmt: skip
    save_file(state, str(tmp_path / "meta.safetensors"),
              metadata={"format": "apollo-restore", "config": json.dumps({**config, "feature_dim": 2 * config["feature_dim"]})})  # fmt: skip
    return {
        "missing": (["missing.wav"], "input not found"),
        "not audio": (["notes.txt"], "not an audio file"),
        "empty": (["empty.wav"], "empty file"),
        "zero length": (["zero.wav"], "no audio samples"),
        "inf": (["inf.wav"], "NaN or infinite"),
        "truncated": (["truncated.flac"], "truncated"),
        "short wav data": (["short.wav"], "truncated: its header promises"),
        # every input is decoded before the first output is written: good.wav gets no output either
        "good then cut mp3": (["good.wav", "cut.mp3", "-o", "out"], "cut.mp3: truncated"),
        "output is input": (["good.wav", "-o", "good.wav"], "is one of the inputs"),
        "output exists": (["good.wav", "-o", "exists.wav"], "--overwrite"),
        "checkpoint missing": (["good.wav", "-o", "o.wav", "CKPT=nope.safetensors"], "checkpoint not found"),
        "checkpoint unknown": (["good.wav", "-o", "o.wav", "CKPT=bad.safetensors"], "not a checkpoint"),
        "bad bits": (["good.wav", "-o", "o.wav", "--bits", "8"], "--bits"),
        "wrong shape": (["good.wav", "-o", "o.wav", "CKPT=shape.safetensors"], "tensor band_nets.0.norm has shape (3, 3)"),
        "config vs tensors": (["good.wav", "-o", "o.wav", "CKPT=meta.safetensors"], "the model config (feature_dim"),
        "-o file, two inputs": (["good.wav", "long.flac", "-o", "both.wav"], "2 inputs need an output folder"),
    }


BAD_CASES = [
    "missing", "not audio", "empty", "zero length", "inf", "truncated", "short wav data", "good then cut mp3",
    "output is input", "output exists",
    "checkpoint missing", "checkpoint unknown", "bad bits", "wrong shape", "config vs tensors", "-o file, two inputs",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_one_line_nothing_written(tmp_path, ckpt, case):
    args, pattern = _bad_inputs(tmp_path)[case]
    checkpoint = ckpt
    if args[-1].startswith("CKPT="):
        checkpoint = tmp_path / args.pop()[5:]
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    res = apollo("restore", *args, "-c", checkpoint, cwd=tmp_path)
    assert_user_error(res, pattern)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_overwrite_replaces(tmp_path, ckpt):
    write_tone(tmp_path / "good.wav", seconds=0.5)
    (tmp_path / "out.wav").write_bytes(b"old")
    res = apollo("restore", "good.wav", "-o", "out.wav", "-c", ckpt, "--overwrite", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert sf.info(str(tmp_path / "out.wav")).frames == 22050


def test_output_suffix_decides_format(tmp_path, ckpt):
    write_tone(tmp_path / "good.wav", seconds=0.5)
    res = apollo("restore", "good.wav", "-o", "out.flac", "-c", ckpt, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    info = sf.info(str(tmp_path / "out.flac"))
    assert (info.format, info.subtype) == ("FLAC", "PCM_24")


def test_help_explains():
    res = apollo("restore", "--help")
    assert res.returncode == 0
    for word in ("--checkpoint", "--chunk-seconds", "--overwrite", "--device", "ffmpeg"):
        assert word in res.stdout


def test_restore_defaults_to_the_pipelines_generator(tmp_path, ckpt):
    raw = layer(read_raw(ROOT / "params.yaml"), {"train": {"out": "trained"}})  # a project elsewhere
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    write_tone(tmp_path / "song.wav")
    missing = apollo("restore", "song.wav", cwd=tmp_path)
    assert_user_error(missing, "make repro")
    assert listing(tmp_path) == ["params.yaml", "song.wav"]
    (tmp_path / "trained").mkdir()
    shutil.copy(ckpt, tmp_path / "trained" / "generator.safetensors")
    res = apollo("restore", "song.wav", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"checkpoint: {tmp_path / 'trained' / 'generator.safetensors'}" in res.stderr
    assert (tmp_path / "song.restored.wav").is_file()


def test_restore_fills_the_codecs_holes_and_makes_the_band(tmp_path):
    """The pipeline's generator (params.yaml's model, tiny) through `apollo restore` in 1 s chunks, on a file cut
    at 11 kHz with a band the codec zeroed (3-4 kHz, 120 dB down): the hole comes back as noise near
    hole_level_db re the passband, the rest of the passband as it was, and the band above the cutoff is made."""
    from apollo.models.apollo import Apollo
    from tests.helpers.audio import band_db, holed_noise
    from tests.helpers.params import model_config

    torch.manual_seed(0)
    model = Apollo(model_config(feature_dim=16, layers=1)).eval()
    save_generator(model, tmp_path / "g.safetensors")
    audio = holed_noise(2.5, channels=2)
    sf.write(str(tmp_path / "in.wav"), audio, 44100, subtype="FLOAT")
    res = apollo("restore", tmp_path / "in.wav", "--checkpoint", tmp_path / "g.safetensors", "--chunk-seconds", "1")
    assert res.returncode == 0, res.stderr
    out, _ = sf.read(str(tmp_path / "in.restored.wav"), dtype="float32")
    passband = band_db(audio, 500, 2500)
    assert band_db(audio, 3100, 3900) - passband < -100  # the input's hole
    assert band_db(out, 3100, 3900) - passband == pytest.approx(model.config.hole_level_db, abs=5)
    assert abs(band_db(out, 500, 2500) - passband) < 0.1 and abs(band_db(out, 5000, 10000) - passband) < 0.1
    assert band_db(out, 12000, 20000) - passband > -40 > band_db(audio, 12000, 20000) - passband


def test_a_checkpoint_from_before_the_proportional_anchor_restores_as_it_was_trained(tmp_path):
    """A round-8 generator file has no `cutoff_reference_fraction` in its config; `apollo restore` must read
    its anchor over the fixed 2 kHz it was trained with, not today's default share of the cutoff."""
    from safetensors.torch import save

    from apollo.checkpoint import FORMAT, canonical_safetensors
    from apollo.models.apollo import Apollo
    from tests.helpers.audio import holed_noise
    from tests.helpers.params import model_config

    torch.manual_seed(0)
    fixed = Apollo(model_config(feature_dim=16, layers=1, cutoff_reference_hz=2000.0, cutoff_reference_fraction=0.0))
    state = {k: v.contiguous() for k, v in fixed.state_dict().items()}
    old = {k: v for k, v in fixed.config.to_dict().items() if k != "cutoff_reference_fraction"}
    raw = save(state, metadata={"format": FORMAT, "config": json.dumps(old)})
    (tmp_path / "round8.safetensors").write_bytes(canonical_safetensors(raw))
    save_generator(fixed, tmp_path / "fixed.safetensors")
    fixed.config = model_config(feature_dim=16, layers=1)  # the same weights read over 0.3 of the cutoff
    save_generator(fixed, tmp_path / "today.safetensors")
    audio = holed_noise(2.5, channels=2)
    hz = np.fft.rfftfreq(len(audio), 1 / 44100)[:, None]  # 7.8-8.8 kHz 20 dB up: only the wider reading sees it
    audio = np.fft.irfft(np.fft.rfft(audio, axis=0) * np.where((hz >= 7800) & (hz < 8800), 10.0, 1.0), n=len(audio), axis=0)
    sf.write(str(tmp_path / "in.wav"), audio.astype(np.float32), 44100, subtype="FLOAT")
    outs = {}
    for name in ("round8", "fixed", "today"):
        dst = tmp_path / f"{name}.wav"
        res = apollo("restore", tmp_path / "in.wav", "-o", dst, "--checkpoint", tmp_path / f"{name}.safetensors")
        assert res.returncode == 0, res.stderr
        outs[name] = sf.read(str(dst), dtype="float32")[0]
    assert np.array_equal(outs["round8"], outs["fixed"])
    assert np.abs(outs["today"] - outs["fixed"]).max() > 1e-3  # the setting is not idle on this input


def test_evaluate_scores_a_checkpoint(tmp_path, shards):
    checkpoint = tmp_path / "identity.safetensors"
    import torch

    from apollo.models.apollo import Apollo
    from tests.helpers.params import model_config

    torch.manual_seed(0)
    save_generator(Apollo(model_config("paper", feature_dim=16, layers=1, residual=True)), checkpoint)
    res = apollo("evaluate", "--checkpoint", checkpoint, "--shards", f"{shards}/test", "--no-visqol", "--real-audio", "",
                 "--real-mixtures", "", "-o", tmp_path / "report")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "restored: sdr" in res.stdout and "mp3: sdr" in res.stdout
    assert (tmp_path / "report" / "metrics.json").is_file() and (tmp_path / "report" / "report.md").is_file()
    bad = apollo("evaluate", "--checkpoint", checkpoint, "--shards", tmp_path / "nowhere")
    assert_user_error(bad, "no shards")
    assert not (tmp_path / "eval-identity").exists()


def test_folders_as_input_and_an_output_folder_made_when_missing(tmp_path, ckpt):
    music = tmp_path / "music"
    (music / "live").mkdir(parents=True)
    for path in (music / "a.wav", music / "b.flac", music / "live" / "c.wav"):
        write_tone(path, seconds=0.5)
    (music / "notes.txt").write_text("not audio")
    (music / "a.restored.wav").write_bytes(b"an earlier output: never an input")
    res = apollo("restore", music, "-o", tmp_path / "out" / "new", "-c", ckpt, "--bits", "16")
    assert res.returncode == 0, res.stderr
    made = tmp_path / "out" / "new"
    assert listing(made) == ["a.restored.wav", "b.restored.wav"]  # the folder's audio, not its subfolders
    assert sf.info(str(made / "a.restored.wav")).subtype == "PCM_16"
    res = apollo("restore", music, "--recursive", "-o", made, "-c", ckpt, "--overwrite")
    assert res.returncode == 0, res.stderr
    assert listing(made) == ["a.restored.wav", "b.restored.wav", "c.restored.wav"]
    (tmp_path / "empty").mkdir()
    assert_user_error(apollo("restore", tmp_path / "empty", "-c", ckpt), "no audio files in this folder")
    # a mistake found after -o DIR was named: the folder is not made
    assert_user_error(apollo("restore", music, "-o", tmp_path / "never", "-c", tmp_path / "nope.safetensors"), "not found")
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("damage, message", [("nan", "is not finite"), ("huge", "reaches 7.7e+33")])
def test_a_damaged_checkpoint_is_refused(tmp_path, damage, message):
    import torch

    model = tiny_model()
    name, tensor = next((n, t) for n, t in model.state_dict().items() if t.is_floating_point() and t.numel() > 1)
    with torch.no_grad():
        tensor.view(-1)[3] = float("nan") if damage == "nan" else 7.7e33
    save_generator(model, tmp_path / "damaged.safetensors")
    write_tone(tmp_path / "in.wav", seconds=0.5)
    res = apollo("restore", tmp_path / "in.wav", "-c", tmp_path / "damaged.safetensors")
    assert_user_error(res, message)
    assert name in res.stderr and listing(tmp_path) == ["damaged.safetensors", "in.wav"]


def test_version_and_help_at_80_columns():
    version = apollo("--version")
    assert version.returncode == 0 and version.stdout.startswith("apollo 0.")
    help_text = apollo("restore", "--help", env={**os.environ, "COLUMNS": "80"}).stdout
    assert all(len(line) <= 80 for line in help_text.splitlines()), help_text
    assert "<input>.restored.<format>" in help_text and "…" not in help_text  # nothing cut


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, ckpt):
    with small_disk(tmp_path / "small", "64k") as disk:
        write_tone(tmp_path / "in.wav", seconds=3.0)  # 3 s of float stereo: about 1 MB, the disk holds 64 kB
        res = apollo("restore", tmp_path / "in.wav", "-o", disk / "out.wav", "-c", ckpt)
        assert_user_error(res, f"cannot write {disk / 'out.wav'}: no space left on the device")
        assert listing(disk) == []


def test_sigterm_leaves_no_partial_output_and_no_temporary(tmp_path, ckpt):
    import signal
    import time

    write_tone(tmp_path / "long.wav", seconds=120.0)
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "apollo", "restore", str(tmp_path / "long.wav"), "-o",
                             str(tmp_path / "out"), "-c", str(ckpt), "--chunk-seconds", "1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline and not list((tmp_path / "out").glob(".*.tmp")):
        time.sleep(0.05)  # the output's temporary exists: restoring has begun
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert listing(tmp_path / "out") == [] and listing(tmp_path / "tmp") == []
