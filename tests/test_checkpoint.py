import argparse
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from apollo.checkpoint import CheckpointError, load_generator, save_generator
from apollo.models.apollo import Apollo
from apollo.models.convert import to_published
from tests.helpers.audio import write_tone
from tests.helpers.params import model_config, tiny_model, tiny_reference_model

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


def test_equal_models_save_to_equal_bytes(tmp_path):
    """DVC hashes the generator file: the same weights and config must give the same bytes every time
    (safetensors alone writes its metadata in a random order: two orders in 20 saves, measured), and the
    file must still read back, with other tools' safetensors readers too."""
    from safetensors import safe_open

    model = tiny_model()
    files = [tmp_path / f"g{i}.safetensors" for i in range(12)]
    for path in files:
        save_generator(model, path)
    assert len({path.read_bytes() for path in files}) == 1
    state = model.state_dict()
    with safe_open(str(files[0]), "pt") as f:  # the library's own reader
        assert f.metadata()["format"] == "apollo-restore"
        assert sorted(f.keys()) == sorted(state)
        assert all(torch.equal(f.get_tensor(k), state[k]) for k in state)
    assert load_generator(files[0]).config == model.config


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


class System:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_in_a_checkpoint_never_runs(tmp_path, capsys):
    marker = tmp_path / "pwned"
    oracle = tiny_reference_model()
    state = {f"audio_model.{k}": v for k, v in oracle.state_dict().items()}
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": {"x": Evil(), "y": System(marker)}}, path)
    assert _same_as_oracle(load_generator(path), oracle)  # the tensors load; the code is an inert stand-in
    assert not marker.exists() and "code ran" not in capsys.readouterr().out
    torch.save({"x": System(marker)}, tmp_path / "only_code.pt")
    with pytest.raises(CheckpointError, match="unknown checkpoint layout"):
        load_generator(tmp_path / "only_code.pt")
    assert not marker.exists()


def foreign_module(name: str) -> types.ModuleType:
    """A module a checkpoint's pickle names, present while saving only (as on the author's machine)."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        module = types.ModuleType(".".join(parts[:i]))
        module.__path__ = []
        sys.modules[module.__name__] = module
    return sys.modules[name]


def foreign_class(module: types.ModuleType, name: str, **attrs) -> type:
    cls = type(name, (), attrs)
    cls.__module__, cls.__qualname__ = module.__name__, name
    setattr(module, name, cls)
    return cls


@pytest.fixture
def omegaconf_like():
    """Objects shaped as omegaconf's DictConfig (a container holding metadata and node objects) and a project's
    own config class, of modules that do not exist when the checkpoint is read."""
    modules = [foreign_module("omegaconf.dictconfig"), foreign_module("omegaconf.nodes"), foreign_module("myproj.conf")]
    DictConfig = foreign_class(modules[0], "DictConfig")
    AnyNode = foreign_class(modules[1], "AnyNode")
    Settings = foreign_class(modules[2], "Settings")

    def config(feature_dim: int):
        node = AnyNode()
        node.__dict__.update(_val=feature_dim, _metadata={"ref_type": "Any"})
        cfg = DictConfig()
        cfg.__dict__.update(_content={"feature_dim": node, "sr": 44100}, _parent=None)
        settings = Settings()
        settings.__dict__.update(model=cfg, name="vocal")
        return {"cfg": cfg, "args": argparse.Namespace(feature_dim=feature_dim, win=20), "settings": settings}

    yield config
    for name in [m for m in sys.modules if m.split(".")[0] in ("omegaconf", "myproj")]:
        del sys.modules[name]


@pytest.mark.parametrize("feature_dim", [128, 192, 256, 384])
def test_community_lightning_checkpoints_of_every_size(tmp_path, omegaconf_like, feature_dim):
    torch.manual_seed(feature_dim)
    config = model_config("paper", feature_dim=feature_dim, layers=1)
    ours = Apollo(config).eval()
    published = to_published(config, ours.state_dict())
    state = {f"audio_model.{k}": v for k, v in published.items()} | {"discriminator.conv.weight": torch.randn(4, 2, 3, 3)}
    path = tmp_path / f"universal_{feature_dim}.ckpt"
    torch.save({"state_dict": state, "epoch": 7, "hyper_parameters": omegaconf_like(feature_dim)}, path)
    for name in [m for m in sys.modules if m.split(".")[0] in ("omegaconf", "myproj")]:
        del sys.modules[name]  # the reader has none of the modules the pickle names
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)  # what refused these files before
    loaded = load_generator(path)
    assert loaded.config == config
    x = 0.1 * torch.randn(1, 2, 8820)
    with torch.no_grad():
        assert torch.equal(loaded(x), ours(x))
    assert not any(m.split(".")[0] in ("omegaconf", "myproj") for m in sys.modules)  # nothing was imported


def test_checkpoint_errors_carry_no_terminal_escapes(tmp_path):
    write_tone(tmp_path / "in.wav")
    odd = tmp_path / "odd.pt"
    torch.save({"\x1b[31mred\x1b[0m": torch.zeros(2)}, odd)  # a key that would colour the terminal
    named = tmp_path / "\x1b]0;title\x07.pt"  # a file name that would set the terminal's title
    for checkpoint in (odd, named):
        res = subprocess.run([sys.executable, "-m", "apollo", "restore", str(tmp_path / "in.wav"), "-c", str(checkpoint)],
                             capture_output=True, text=True)  # fmt: skip
        assert res.returncode == 1 and res.stderr.startswith("error: "), res.stderr
        assert not any(c in res.stderr for c in "\x1b\x07\x9b"), repr(res.stderr)


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
