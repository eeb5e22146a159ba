import hashlib
import io
import json
import tarfile

import numpy as np
import pytest
import soundfile as sf
import torch

from apollo.audio.codec import estimate_lag
from apollo.data.loader import make_loader
from apollo.data.shards import category, load_index, make_sample, recipe, shard_path, write_all, write_shard
from apollo.params import ShardParams
from tests.helpers.data import folder_index
from tests.helpers.params import section


@pytest.fixture
def shard_params(stem_folder, tmp_path):
    shards = section("shards", out=str(tmp_path / "shards"), samples={"train": 12, "val": 4, "test": 4},
                     samples_per_shard=5, seconds=1.0, workers=1)  # fmt: skip
    return ShardParams(index=folder_index(stem_folder, tmp_path / "sad"), **shards.__dict__)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shards_are_byte_identical_across_runs_and_workers(shard_params, tmp_path):
    first = write_all(shard_params)
    assert (first["splits"]["train"]["shards"], first["splits"]["train"]["samples"]) == (3, 12)
    paths = sorted((tmp_path / "shards").rglob("*.tar"))
    assert len(paths) == 3 + 1 + 1
    before = {p: digest(p) for p in paths}
    again = ShardParams(**{**shard_params.__dict__, "workers": 2})
    write_all(again)
    assert {p: digest(p) for p in paths} == before
    assert not list((tmp_path / "shards").rglob("*.tmp"))


def test_sample_schema_alignment_and_scaling(shard_params):
    write_shard(shard_params, "train", 0)
    with tarfile.open(shard_path(shard_params, "train", 0)) as tar:
        names = tar.getnames()
        assert names[:4] == ["train-00000000.degraded.flac", "train-00000000.json", "train-00000000.mp3", "train-00000000.target.flac"]
        assert all(m.mtime == 0 and m.uname == "apollo" for m in tar.getmembers())
        read = lambda n: tar.extractfile(n).read()  # noqa: E731
        target, sr = sf.read(io.BytesIO(read("train-00000000.target.flac")))
        degraded, _ = sf.read(io.BytesIO(read("train-00000000.degraded.flac")))
        meta = json.loads(read("train-00000000.json"))
    assert sr == 44100 and target.shape == degraded.shape == (44100, 2)
    assert max(np.abs(target).max(), np.abs(degraded).max()) == pytest.approx(1.0, abs=1e-4)  # joint rescale
    assert abs(estimate_lag(target, degraded, 3000)) <= 1
    assert meta["bitrate"] in shard_params.bitrates and meta["bitrate_actual"] >= 32
    assert meta["category"] in ("vocal", "single stem", "multi-stem", "multi-stem + vocal")
    assert {"split", "index", "seed", "parts", "codec"} <= set(meta)


def test_any_sample_regenerates_alone(shard_params):
    write_shard(shard_params, "train", 1)  # samples 5..9
    with tarfile.open(shard_path(shard_params, "train", 1)) as tar:
        stored = tar.extractfile("train-00000007.target.flac").read()
    alone = make_sample(shard_params, load_index(shard_params.index), "train", 7)
    assert alone["target.flac"] == stored


def test_recipes_follow_the_parameters(shard_params):
    index = load_index(shard_params.index)
    mixes = [recipe(shard_params, index, "train", i, 0) for i in range(200)]
    n_mixture = sum(r["parts"][0]["kind"] == "mixture" for r in mixes)
    assert 60 < n_mixture < 140  # mixture_prob 0.5
    stems = [r for r in mixes if r["parts"][0]["kind"] != "mixture"]
    assert all(1 <= len(r["parts"]) <= 8 for r in stems)
    assert all(-10 <= p["gain_db"] <= 10 for r in stems for p in r["parts"])
    only = ShardParams(**{**shard_params.__dict__, "mixture_prob": 0.0, "bitrates": (64,)})
    assert all(recipe(only, index, "val", i, 0)["bitrate"] == 64 for i in range(20))


def test_categories():
    assert category(["vocals"]) == "vocal"
    assert category(["drums"]) == "single stem"
    assert category(["drums", "bass"]) == "multi-stem"
    assert category(["drums", "vocals"]) == "multi-stem + vocal"
    assert category([], song_has_vocals=True) == "multi-stem + vocal"


def test_loader_returns_aligned_float_batches(shard_params):
    write_all(shard_params)
    loader = make_loader(f"{shard_params.out}/train", batch_size=4, crop_samples=22050, workers=2)
    batches = list(loader)
    assert sum(len(d) for d, _ in batches) == 12
    degraded, target = batches[0]
    assert degraded.shape == target.shape == (4, 2, 22050)
    assert degraded.dtype == target.dtype == torch.float32
    lag = estimate_lag(target[0].numpy().T, degraded[0].numpy().T, 2000)
    assert abs(lag) <= 1  # one crop offset for both halves
    endless = iter(make_loader(f"{shard_params.out}/train", batch_size=4, crop_samples=4410, repeat=True))
    assert len([next(endless) for _ in range(10)]) == 10  # 12 samples, 40 drawn: it repeats


def test_the_index_is_read_once_and_reread_when_rewritten(shard_params):
    import os

    from apollo.files import write_json

    first = load_index(shard_params.index)
    assert load_index(shard_params.index) is first  # cached: recipes never reread the file
    raw = json.loads(open(shard_params.index).read())
    dropped = sorted(raw["songs"])[0]
    del raw["songs"][dropped]
    write_json(shard_params.index, raw)
    stat = os.stat(shard_params.index)
    os.utime(shard_params.index, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # whatever the clock's grain
    again = load_index(shard_params.index)
    assert dropped in first.songs and dropped not in again.songs
    assert all(item[0] != dropped for split in again.mixtures.values() for item in split)
