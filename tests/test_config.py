import pytest

from apollo.config import ConfigError, load_params
from apollo.model_card import model_card
from apollo.models.apollo import ApolloConfig


def test_repo_params_parse_to_paper_defaults():
    params = load_params("params.yaml")
    assert params.model == ApolloConfig()


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
