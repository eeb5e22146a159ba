from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from apollo.audio.activity import SADParams
from apollo.data.sad import build_index, write_index
from apollo.data.shards import ShardParams, write_all
from apollo.data.sources import SourceParams
from apollo.models.apollo import Apollo, ApolloConfig
from apollo.models.reference import ReferenceApollo

FIXTURES = Path(__file__).parent / "fixtures"
SR = 44100


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_reference():
    """The published code's numeric fixture: (published state dict, input, output)."""
    z = np.load(FIXTURES / "apollo_tiny_reference.npz")
    state = {k.removeprefix("state_dict/"): torch.from_numpy(z[k]) for k in z.files if k.startswith("state_dict/")}
    return state, torch.from_numpy(z["input"]), torch.from_numpy(z["output"])


def tiny_model(causal: bool = False, seed: int = 0) -> Apollo:
    torch.manual_seed(seed)
    return Apollo(ApolloConfig(feature_dim=16, layers=2, causal=causal)).eval()


def tiny_reference_model(seed: int = 0) -> ReferenceApollo:
    torch.manual_seed(seed)
    return ReferenceApollo(feature_dim=16, layer=2).eval()


def write_tone(path: Path, seconds: float = 1.0, sr: int = 44100, channels: int = 2, **kw) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    audio = np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], 1).astype(np.float32)
    sf.write(str(path), audio, sr, **kw)
    return audio

def noise(seconds: float, seed: int, channels: int = 2, gap: tuple[float, float] | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (0.1 * rng.standard_normal((int(seconds * SR), channels))).astype(np.float32)
    if gap:
        x[int(gap[0] * SR) : int(gap[1] * SR)] = 0
    return x


def write(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, SR)


@pytest.fixture
def stem_folder(tmp_path) -> Path:
    """A plain stem folder: 5 songs, 4 stems each (one mono, one with a silent gap), and a mixture."""
    root = tmp_path / "stems"
    for s in range(5):
        stems = {
            "drums": noise(12, 10 * s),
            "bass": noise(12, 10 * s + 1, channels=1),
            "vocals": noise(12, 10 * s + 2, gap=(0, 6)),
            "piano": noise(12, 10 * s + 3),
        }
        for name, audio in stems.items():
            write(root / f"song{s}" / f"{name}.wav", audio)
        write(root / f"song{s}" / "mixture.wav", sum(np.broadcast_to(a, (len(a), 2)) for a in stems.values()))
    return root


@pytest.fixture
def shards(stem_folder, tmp_path) -> str:
    index = build_index(SourceParams(kind="folder", root=str(stem_folder)), SADParams(), workers=1)
    write_index(index, tmp_path / "sad")
    params = ShardParams(index=str(tmp_path / "sad" / "index.json"), out=str(tmp_path / "shards"),
                         samples={"train": 8, "val": 2, "test": 2}, samples_per_shard=4, seconds=0.5, workers=1)  # fmt: skip
    write_all(params)
    return params.out
