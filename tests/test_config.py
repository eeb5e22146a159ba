import shlex
import subprocess

import pytest

from apollo.config import ConfigError, apply_overrides, build_params, load_params, read_raw
from apollo.model_card import model_card
from apollo.models.apollo import ApolloConfig
from apollo.models.discriminator import DEFAULT_WINDOWS


def test_repo_params_parse_and_the_paper_profile_is_one_command_away():
    params = load_params("params.yaml")
    assert params.model.feature_dim < ApolloConfig().feature_dim  # the default is the CPU profile
    # `make train-paper` runs `dvc exp run` with these -S overrides: they must give the paper's setup
    flags = shlex.split(subprocess.run(["make", "-s", "paper-overrides"], capture_output=True, text=True, check=True).stdout)
    overrides = [flags[i + 1] for i, f in enumerate(flags) if f == "-S"]
    paper = build_params(apply_overrides(read_raw("params.yaml"), overrides))
    assert paper.model == ApolloConfig()
    assert (paper.train.disc_windows, paper.train.disc_channels, paper.train.crop_seconds) == (DEFAULT_WINDOWS, 8, 3.0)


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


def test_model_card_counts():
    card = model_card(ApolloConfig(feature_dim=16, layers=2, causal=True))
    assert card["parameters"] == 70892
    assert card["receptive_field_frames"] == {"past": 36, "future": 0}
    assert card["streaming_latency_samples"] == 881
    assert card["gflop_per_second_stereo"] > 0
