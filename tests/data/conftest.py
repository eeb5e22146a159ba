from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 44100


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
