
import pytest
import torch
from safetensors.torch import save_file

from apollo.checkpoint import CheckpointError, load_generator, save_generator
from apollo.models.apollo import Apollo
from tests.helpers.params import model_config
from tests.helpers.params import tiny_model, tiny_reference_model

X = torch.randn(1, 2, 6000) * 0.2


def _same_as_oracle(model, oracle):
    with torch.no_grad():
        return (model(X) - oracle(X)).abs().max().item() < 1e-5


def test_own_format_round_trip(tmp_path):
    model = Apollo(model_config("paper", feature_dim=16, layers=1, causal=True))
    save_generator(model, tmp_path / "g.safetensors")
    loaded = load_generator(tmp_path / "g.safetensors")
    assert loaded.config == model.config
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    assert not list(tmp_path.glob("*.tmp"))


def test_published_torch_file(tmp_path):
    oracle = tiny_reference_model()
    path = tmp_path / "pytorch_model.bin"
    torch.save({"model_name": "Apollo", "state_dict": oracle.state_dict(), "model_args": {"sr": 44100}}, path)
    assert _same_as_oracle(load_generator(path), oracle)


def test_lightning_checkpoint_ignores_discriminator(tmp_path):
    oracle = tiny_reference_model()
    state = {f"audio_model.{k}": v for k, v in oracle.state_dict().items()}
    state["discriminator.convs.0.weight"] = torch.randn(8, 2, 3, 3)
    path = tmp_path / "epoch=3.ckpt"
    torch.save({"state_dict": state, "epoch": 3, "global_step": 10}, path)
    assert _same_as_oracle(load_generator(path), oracle)


def test_bare_state_dict_torch_and_safetensors(tmp_path):
    oracle = tiny_reference_model()
    torch.save(oracle.state_dict(), tmp_path / "bare.pt")
    save_file({k: v.contiguous() for k, v in oracle.state_dict().items()}, str(tmp_path / "bare.safetensors"))
    assert _same_as_oracle(load_generator(tmp_path / "bare.pt"), oracle)
    assert _same_as_oracle(load_generator(tmp_path / "bare.safetensors"), oracle)


class Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_refuses_to_unpickle_code(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "x": Evil()}, path)
    with pytest.raises(CheckpointError, match="refusing to unpickle"):
        load_generator(path)
    assert "code ran" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a checkpoint"),
        (b"hello world, not weights", "not a checkpoint"),
    ],
)
def test_not_a_checkpoint(tmp_path, content, message):
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_generator(path)


def test_unknown_layouts_name_what_was_found(tmp_path):
    torch.save({"encoder.weight": torch.zeros(3)}, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match=r"bare state dict of unknown layout.*encoder\.weight"):
        load_generator(tmp_path / "a.pt")
    torch.save([1, 2, 3], tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="found a list"):
        load_generator(tmp_path / "b.pt")
    torch.save({"epoch": 1, "optimizer": {}}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=r"found a dict with keys \['epoch', 'optimizer'\]"):
        load_generator(tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_generator(tmp_path / "missing.safetensors")


def test_truncated_checkpoint(tmp_path):
    save_generator(tiny_model(), tmp_path / "g.safetensors")
    data = (tmp_path / "g.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_generator(tmp_path / "cut.safetensors")
