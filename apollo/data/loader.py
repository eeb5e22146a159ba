"""The WebDataset pipeline that training and evaluation read shards through.

Shards are split across nodes (ranks) and across DataLoader workers, shuffled
(shard order and a sample buffer), decoded from FLAC, cropped at one random
offset shared by target and degraded, and batched to (B, channels, samples)
float tensors.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from apollo.files import is_url


def shard_urls(folder: str | Path) -> list[str]:
    """The shards of a split folder: a local path or an fsspec URL (``s3://bucket/shards/train``)."""
    if is_url(folder):
        import fsspec

        import webdataset as wds

        fs, root = fsspec.core.url_to_fs(str(folder))
        urls = sorted(fs.unstrip_protocol(p) for p in fs.glob(f"{root.rstrip('/')}/shard-*.tar"))
        # WebDataset opens URLs through its own table of schemes: object storage goes through fsspec,
        # for every reader of these URLs (training loader, evaluation)
        wds.gopen_schemes[str(folder).split("://")[0]] = _fsspec_open
    else:
        urls = sorted(str(p) for p in Path(folder).glob("shard-*.tar"))
    if not urls:
        raise FileNotFoundError(f"no shards (shard-*.tar) in {folder}")
    return urls


def decode_pair(sample: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """(degraded, target) as (channels, samples) float32, and the sample's metadata."""
    degraded, _ = sf.read(io.BytesIO(sample["degraded.flac"]), dtype="float32", always_2d=True)
    target, _ = sf.read(io.BytesIO(sample["target.flac"]), dtype="float32", always_2d=True)
    return degraded.T.copy(), target.T.copy(), json.loads(sample["json"])


def _fsspec_open(url: str, mode: str = "rb", bufsize: int = 8192, **kw):
    import fsspec

    return fsspec.open(url, mode).open()


class RandomCrop:
    """Crop both signals at one offset; a picklable callable so DataLoader workers can use it."""

    def __init__(self, samples: int | None, seed: int = 0):
        self.samples, self.seed = samples, seed
        self.rng = None

    def __call__(self, pair):
        degraded, target, meta = pair
        if self.samples is None or target.shape[1] <= self.samples:
            return torch.from_numpy(degraded), torch.from_numpy(target)
        if self.rng is None:  # per worker: seeded by the worker id, so workers differ but runs repeat
            info = torch.utils.data.get_worker_info()
            self.rng = np.random.default_rng([self.seed, info.id if info else 0])
        start = int(self.rng.integers(0, target.shape[1] - self.samples + 1))
        end = start + self.samples
        return torch.from_numpy(degraded[:, start:end]), torch.from_numpy(target[:, start:end])


def make_loader(
    folder: str | Path,
    *,
    batch_size: int,
    crop_samples: int | None = None,
    shuffle_buffer: int = 256,
    workers: int = 0,
    seed: int = 0,
    repeat: bool = False,
):
    """A ``webdataset.WebLoader`` yielding (degraded, target) batches of shape (B, C, crop)."""
    import webdataset as wds

    dataset = wds.WebDataset(
        shard_urls(folder),
        nodesplitter=wds.split_by_node,
        workersplitter=wds.split_by_worker,
        shardshuffle=100 if shuffle_buffer else False,
        detshuffle=True,  # shard order from `seed` (and the epoch), not from the clock
        seed=seed,
        empty_check=False,  # a rank or worker may get no shard when shards are few
    )
    if shuffle_buffer:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed)
    dataset = dataset.map(decode_pair).map(RandomCrop(crop_samples, seed)).batched(batch_size, partial=not repeat)
    if repeat:  # endless: training counts steps, not epochs
        dataset = dataset.repeat()
    return wds.WebLoader(dataset, batch_size=None, num_workers=workers)
