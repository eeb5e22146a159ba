import dataclasses
import pickle
import subprocess
import sys
import typing

import pytest
import yaml

from apollo.config import (RULES, ConfigError, Params, apply_overrides, build_params, layer, load_params,
                           profile_overrides, read_raw)  # fmt: skip
from apollo.errors import run_command
from apollo.model_card import model_card
from apollo.pipeline import set_params
from tests.helpers.params import model_config, project_params


def test_the_paper_profile_layers_on_params_yaml():
    cpu, paper = project_params(), project_params("paper")
    assert (cpu.model.feature_dim, cpu.model.residual) == (32, True)  # params.yaml: the CPU profile
    assert (paper.model.feature_dim, paper.model.layers, paper.model.heads, paper.model.residual) == (256, 6, 8, False)
    assert paper.train.disc_windows == (32, 64, 128, 256, 512, 1024, 2048) and paper.train.mixed_precision == "bf16"
    assert paper.model.tcn_kernel == cpu.model.tcn_kernel and paper.evaluate == cpu.evaluate  # the rest from params.yaml


def test_make_train_paper_runs_the_profile_as_an_experiment():
    # what `make train-paper` runs, without running DVC: the -S flags that turn params.yaml into the profile
    res = subprocess.run([sys.executable, "-m", "apollo.experiments", "--profile", "profiles/paper.yaml", "--dry-run"],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr
    line = res.stdout.strip()
    assert line.startswith("dvc exp run --name paper-") and "--temp" not in line  # in the workspace: resumable
    assert {"++model.feature_dim=256", "++model.residual=false", "++train.disc_channels=8"} <= set(line.split())
    assert "model.tcn_kernel" not in line  # only what differs
    bad = subprocess.run([sys.executable, "-m", "apollo.experiments", "--profile", "profiles/paper.yaml", "--dry-run",
                          "--overrides", "model.heads=7"], capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.startswith("error: params: model.feature_dim (256)"), bad.stderr


def test_paper_params_writes_the_profile_into_params_yaml(tmp_path):
    (tmp_path / "params.yaml").write_text(open("params.yaml").read())
    written = set_params(tmp_path, profile="profiles/paper.yaml")
    assert written == project_params("paper") == load_params(tmp_path / "params.yaml")
    assert "# Every knob of the pipeline" in (tmp_path / "params.yaml").read_text()  # comments kept


def test_layering_merges_sections_and_replaces_values():
    base = {"train": {"steps": 1, "loss": {"alpha": 1.0, "beta": 1.0}}, "shards": {"codecs": {"mp3": 1.0, "aac": 1.0}}}
    profile = {"train": {"loss": {"beta": 2.0}}, "shards": {"codecs": {"opus": 1.0}}}
    assert layer(base, profile) == {"train": {"steps": 1, "loss": {"alpha": 1.0, "beta": 2.0}},
                                    "shards": {"codecs": {"opus": 1.0}}}  # fmt: skip
    assert profile_overrides(profile) == ["train.loss.beta=2.0", "shards.codecs={opus: 1.0}"]
    assert base["train"]["loss"]["beta"] == 1.0  # a copy


def test_overrides_are_checked():
    raw = read_raw("params.yaml")
    assert apply_overrides(raw, ["train.steps=7"])["train"]["steps"] == 7
    assert raw["train"]["steps"] != 7  # a copy
    with pytest.raises(ConfigError, match="unknown key"):
        apply_overrides(raw, ["train.stpes=7"])
    with pytest.raises(ConfigError, match="not key=value"):
        apply_overrides(raw, ["train.steps"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("model:\n  feature_dims: 3\n", "unknown key(s) in 'model': feature_dims"),
        ("modle:\n  sr: 1\n", "unknown section(s): modle"),
        ("sad:\n  detection:\n    windows: 3\n", "unknown key(s) in 'sad.detection': windows"),
        ("model: 3\n", "must be a mapping"),
        ("model: [\n", "cannot read"),
    ],
)
def test_bad_params_are_clear_errors(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_params(path)


def errors_of(call) -> list[str]:
    with pytest.raises(ConfigError) as e:
        call()
    return e.value.messages()


def test_repo_params_pass_every_rule_with_every_section():
    params = load_params("params.yaml")
    assert params.train.mixed_precision in RULES["train.mixed_precision"].choices


def leaves(cls, prefix: str = "") -> list[str]:
    names = []
    for key, kind in typing.get_type_hints(cls).items():
        name = f"{prefix}{key}"
        names += leaves(kind, name + ".") if dataclasses.is_dataclass(kind) else [name]
    return names


def dataclasses_of(cls) -> list[type]:
    nested = [kind for kind in typing.get_type_hints(cls).values() if dataclasses.is_dataclass(kind)]
    return [cls] + [c for kind in nested for c in dataclasses_of(kind)]


def test_every_field_of_every_section_has_a_rule_and_no_default_in_code():
    assert sorted(leaves(Params)) == sorted(RULES)
    with_defaults = [f"{cls.__name__}.{f.name}" for cls in dataclasses_of(Params) for f in dataclasses.fields(cls)
                     if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING]  # fmt: skip
    assert with_defaults == []  # params.yaml is the one place values are written
    params = load_params("params.yaml")
    assert build_params(dataclasses.asdict(params)) == params


@pytest.mark.parametrize(
    "overrides, message",
    [  # the cases first
        (["train.steps=abc"], "train.steps must be an integer, got 'abc'"),
        (['shards.seconds="abc"'], "shards.seconds must be a number, got 'abc'"),
        (["shards.samples_per_shard=0"], "shards.samples_per_shard must be >= 1, got 0"),
        (["shards.samples.train=-5"], "shards.samples.train must be >= 1, got -5"),
        (["shards.codecs={flac: 1.0}"], "shards.codecs: unknown key(s) 'flac'; choose from mp3, aac, opus"),
        (["shards.bitrates=[7, 32, 500]"], "shards.bitrates: 7, 500 kbps not supported by mp3"),
        (["shards.codecs={opus: 1.0}", "shards.bitrates=[32, 600]"], "shards.bitrates: 600 kbps not supported by opus (6-510)"),
        (["evaluate.real_bitrates=[7]"], "evaluate.real_bitrates[0] must be one of 24, 32, 40"),
        (["train.mixed_precision=fp8"], "train.mixed_precision must be one of 'fp32', 'fp16', 'bf16', got 'fp8'"),
        (["train.mixed_precision=no"], "train.mixed_precision must be text, got False (YAML reads a bare no"),
        (["sources.kind=mp3"], "sources.kind must be one of 'synth', 'folder', 'musdb', 'moisesdb', got 'mp3'"),
        (["train.steps=true"], "train.steps must be an integer, got True"),
        (["train.steps=2.5"], "train.steps must be an integer, got 2.5"),
        (["train.lr_g=1e-3x"], "train.lr_g must be a number, got '1e-3x'"),
        (["shards.seconds=.inf"], "shards.seconds must be a number, got inf"),
        (["shards.mixture_prob=1.5"], "shards.mixture_prob must be in [0, 1], got 1.5"),
        (["sources.val_fraction=1"], "sources.val_fraction must be in [0, 1), got 1"),
        (["sources.val_fraction=0.5", "sources.test_fraction=0.5"], "val_fraction + sources.test_fraction (1) must be below 1"),
        (["shards.samples={train: 3}"], "shards.samples: missing key(s) val, test"),
        (["shards.codecs={}"], "shards.codecs must not be empty"),
        (["shards.codecs={mp3: 0}"], "shards.codecs.mp3 must be > 0, got 0"),
        (["shards.min_stems=5", "shards.max_stems=3"], "shards.min_stems (5) must not exceed shards.max_stems (3)"),
        (["shards.max_stems=9"], "shards.max_stems must be in [1, 8], got 9"),
        (["shards.bitrate_weights=[1, 2]"], "shards.bitrate_weights has 2 weight(s) for 6 bitrate(s)"),
        (["shards.bitrates=[32, 32]"], "shards.bitrates must not repeat a value"),
        (["shards.bitrates=32"], "shards.bitrates must be a list of integers, got 32"),
        (["model.heads=3"], "model.feature_dim (32) must split into model.heads (3) heads of even size"),
        (["model.sr=48000"], "model.sr must be one of 44100, got 48000"),
        (["model.tcn_kernel=4"], "model.tcn_kernel must be odd"),
        (["model.cutoff_reference_fraction=1.5"], "model.cutoff_reference_fraction must be in [0, 1], got 1.5"),
        (["model.band_widths=[5, 5]"], "model.band_widths add up to 10 bins; the STFT has 442"),
        (["train.disc_windows=[100]"], "train.disc_windows[0] must be a power of two, got 100"),
        (["train.betas_g=[0.9]"], "train.betas_g must have 2 elements, got [0.9]"),
        (["train.crop_seconds=5.0"], "train.crop_seconds (5) must not exceed shards.seconds (3)"),
        (["train.crop_seconds=0.01"], "train.crop_seconds (0.01 s, 441 samples) is shorter than the largest train.disc_windows (2048)"),
        (["shards.seconds=7.0", "train.crop_seconds=1.0"], "shards.seconds (7) must fit in a kept SAD window (sad.detection.window_s 6)"),
        (["sad.detection.hop_s=0.001"], "sad.detection.hop_s (0.001 s) must be at least one frame"),
        (["synth.songs=2"], "synth.songs (2) must be at least 3 with sources.kind synth"),
        (["synth.out="], "synth.out must be text, got null"),
        (["synth.out=' '"], "synth.out must not be empty"),
        (["train.steps.max=3"], "override 'train.steps.max=3': 'train.steps' is not a section"),
        (["train=3"], "'train' must be a mapping, got 3"),
    ],
)
def test_each_mistake_is_one_clear_line(overrides, message):
    errors = errors_of(lambda: apply_overrides(read_raw("params.yaml"), overrides))
    assert len(errors) == 1 and message in errors[0], errors
    assert errors[0].startswith("params: ") and "\n" not in errors[0]


def test_a_huge_value_is_not_echoed():
    (error,) = errors_of(lambda: apply_overrides(read_raw("params.yaml"), ["shards.seconds=" + "abc" * 44000]))
    assert error.startswith("params: shards.seconds must be a number, got 'abcabc") and len(error) < 120


def test_a_rule_across_fields_is_quiet_when_one_of_them_is_wrong_already():
    assert errors_of(lambda: apply_overrides(read_raw("params.yaml"), ["model.heads=x"])) == [
        "params: model.heads must be an integer, got 'x'"]  # fmt: skip


def test_every_mistake_is_reported_each_on_its_own_error_line(tmp_path, capsys):
    raw = read_raw("params.yaml")
    raw["train"].update(steps="abc", batch_size=0, stpes=3)
    raw["shards"].update(bitrates=[7, 500])
    raw["sources"].update(kind="mp3")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SystemExit) as e:
        run_command(lambda: load_params(path))
    assert e.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("error: params: ") for line in lines), lines
    assert [w for w in ("stpes", "train.steps", "train.batch_size", "sources.kind") if not any(w in x for x in lines)] == []
    # rules across fields (here: bitrates the codec cannot make) run once every field is right
    assert errors_of(lambda: apply_overrides(raw, ["train.steps=3", "train.batch_size=1", "sources.kind=synth"]))[-1:] == [
        "params: unknown key(s) in 'train': stpes"]  # fmt: skip
    del raw["train"]["stpes"]
    assert "shards.bitrates: 7, 500 kbps not supported by mp3" in errors_of(lambda: apply_overrides(
        raw, ["train.steps=3", "train.batch_size=1", "sources.kind=synth"]))[0]  # fmt: skip


def test_bad_overrides_and_bad_values_are_reported_together():
    errors = errors_of(lambda: apply_overrides(read_raw("params.yaml"), ["train.steps", "train.batch_size=0", "x.y=1"]))
    assert len(errors) == 3 and "not key=value" in errors[0], errors


@pytest.mark.parametrize("text, message", [("", "is empty"), ("# nothing\n", "is empty"), ("- 3\n", "must be a mapping")])
def test_an_empty_params_file_is_an_error(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    assert message in errors_of(lambda: load_params(path))[0]


def test_every_section_and_key_must_be_written(tmp_path):
    partial = {"sad": read_raw("params.yaml")["sad"]}
    assert errors_of(lambda: build_params(partial)) == [
        "params: missing section(s): model, model_card, synth, sources, shards, train, evaluate (the pipeline reads every section)"]  # fmt: skip
    raw = read_raw("params.yaml")
    del raw["train"]["crop_seconds"], raw["sad"]["detection"]["floor"]
    assert errors_of(lambda: build_params(raw)) == ["params: missing key(s) in 'sad.detection': floor",
                                                   "params: missing key(s) in 'train': crop_seconds"]  # fmt: skip
    assert "missing section(s): train" in errors_of(lambda: apply_overrides({**read_raw("params.yaml"), "train": None}, []))[0]


def test_values_are_held_as_their_type_says():
    raw = read_raw("params.yaml")
    params = build_params(apply_overrides(raw, ["shards.seconds=2", "shards.codecs={mp3: 3, aac: 1}", "train.betas_g=[0, 1.0e-1]"]))
    assert params.shards.seconds == 2.0 and isinstance(params.shards.seconds, float)
    assert params.shards.codecs == {"mp3": 3.0, "aac": 1.0} and params.train.betas_g == (0.0, 0.1)
    assert isinstance(params.shards.bitrates, tuple)


def test_config_errors_pickle_with_every_message():
    error = pickle.loads(pickle.dumps(ConfigError("a", "b")))
    assert error.messages() == ["a", "b"] and str(error) == "a\nb"


@pytest.mark.slow
def test_dvc_repro_of_a_bad_params_file_is_error_lines_and_touches_nothing(tmp_path):
    from tests.helpers.tiny_project import dvc, make_project

    project = make_project(tmp_path / "project")
    text = (project / "params.yaml").read_text()
    for line, bad in (("  steps: 600", "  steps: abc"), ("  batch_size: 4", "  batch_size: 0")):
        assert line in text
        text = text.replace(line, bad, 1)
    (project / "params.yaml").write_text(text)
    (project / "data" / "shards" / "train").mkdir(parents=True)  # the stage's dependency: there, so DVC runs it
    checkpoints = project / "data" / "train" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "latest").write_text("step-000100")
    (project / "data" / "train" / "generator.safetensors").write_text("the last good generator")
    res = dvc(project, "repro", "--single-item", "train")
    output = res.stdout + res.stderr
    assert res.returncode != 0 and "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert errors == ["error: params: train.steps must be an integer, got 'abc'",
                      "error: params: train.batch_size must be >= 1, got 0"], output  # fmt: skip
    assert (checkpoints / "latest").read_text() == "step-000100"
    assert (project / "data" / "train" / "generator.safetensors").read_text() == "the last good generator"


def test_model_card_counts():
    card = model_card(model_config("paper", feature_dim=16, layers=2, causal=True))
    assert card["parameters"] == 70892
    assert card["receptive_field_frames"] == {"past": 36, "future": 0}
    assert card["streaming_latency_samples"] == 881
    assert card["gflop_per_second_stereo"] > 0


def test_an_exponent_without_a_dot_is_a_number():
    """DVC (YAML 1.2) writes 1e-05 into params.yaml on `dvc exp run -S`; PyYAML (YAML 1.1) reads it as text."""
    raw = apply_overrides(read_raw("params.yaml"), ["train.lr_g=1e-05", "train.lr_d=2E+1"])
    params = build_params(raw)
    assert params.train.lr_g == 1e-05 and params.train.lr_d == 20.0
