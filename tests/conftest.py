from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from apollo.models.apollo import Apollo, ApolloConfig
from apollo.models.reference import ReferenceApollo

FIXTURES = Path(__file__).parent / "fixtures"


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
