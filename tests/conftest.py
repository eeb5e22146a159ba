"""Fixtures only; the functions tests share live in tests/helpers/."""

from pathlib import Path

import numpy as np
import pytest
import torch

from apollo.data.shards import write_all
from apollo.params import ShardParams
from tests.helpers.audio import noise, write
from tests.helpers.data import folder_index
from tests.helpers.params import section

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
    shards = section("shards", out=str(tmp_path / "shards"), samples={"train": 8, "val": 2, "test": 2},
                     samples_per_shard=4, seconds=0.5, workers=1)  # fmt: skip
    params = ShardParams(index=folder_index(stem_folder, tmp_path / "sad"), **shards.__dict__)
    write_all(params)
    return params.out
