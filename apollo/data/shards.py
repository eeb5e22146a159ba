"""Stage `shards`: stem mixing and lossy degradation into WebDataset tar shards.

A sample is a pure function of (params, split, index): its recipe (which
mixture segment, or which 1-8 stems from which songs at which gains and
offsets, which bitrate) comes from a generator seeded by (seed, split, index),
so any sample can be regenerated alone. A shard is a pure function of (params,
split, shard index), written under a temporary name and renamed when complete,
byte-identical on every run (sorted members, fixed mtime/owner, deterministic
FLAC and LAME). Schema: docs/shards.md.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from apollo.audio.codec import degrade_pair, fit_length
from apollo.files import atomic, is_url, write_json
from apollo.parallel import map_progress
from apollo.params import SPLITS, SR, ShardParams

SPLIT_IDS = {s: i for i, s in enumerate(SPLITS)}
SILENCE = 1e-3  # peak below which a mix counts as silent
ATTEMPTS = 16  # recipes tried per sample before it is skipped as silent


@dataclass(frozen=True)
class Index:
    """The SAD index as the shards read it: its songs, and per split the segments that recipes draw from."""

    songs: dict  # name -> {"split", "stems": {kind: {"files", "sr", "segments"}}}, as in the index file
    mixtures: dict  # split -> [(song, "mixture", segment)]
    stems: dict  # split -> {stem type: [(song, kind, segment)]}


def load_index(path: str) -> Index:
    """Read once per process, and again when the file changes: keyed by its modification time too, so a
    long-lived worker never keeps a stale index."""
    return _read_index(str(path), Path(path).stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _read_index(path: str, mtime_ns: int) -> Index:
    return index_of(json.loads(Path(path).read_text())["songs"])


def index_of(songs: dict) -> Index:
    """The recipes' view of a SAD index's songs."""
    mixtures, stems = {s: [] for s in SPLITS}, {s: {} for s in SPLITS}
    for name in sorted(songs):
        song = songs[name]
        for kind in sorted(song["stems"]):
            for seg in song["stems"][kind]["segments"]:
                item = (name, kind, seg)
                if kind == "mixture":
                    mixtures.setdefault(song["split"], []).append(item)
                else:
                    stems.setdefault(song["split"], {}).setdefault(kind.split("#")[0], []).append(item)
    return Index(songs, mixtures, stems)


def category(types: list[str], song_has_vocals: bool | None = None) -> str:
    """The paper's Table II groups."""
    if song_has_vocals is not None:  # a real mixture
        return "multi-stem + vocal" if song_has_vocals else "multi-stem"
    if len(types) == 1:
        return "vocal" if types[0] == "vocals" else "single stem"
    return "multi-stem + vocal" if "vocals" in types else "multi-stem"


def recipe(params: ShardParams, index: Index, split: str, i: int, attempt: int) -> dict:
    """Which sources, gains, offsets, codec and bitrate make attempt `attempt` at sample `i` of `split`."""
    rng = np.random.default_rng([params.seed, SPLIT_IDS[split], i, attempt])
    mixtures, stems = index.mixtures[split], index.stems[split]
    crop = int(params.seconds * SR)
    def place(item):  # noqa: E306 -- a random crop inside a kept segment
        song, kind, (a, b) = item
        return {"song": song, "kind": kind, "offset": int(a + rng.integers(0, max(1, b - a - crop + 1)))}
    if mixtures and (not stems or rng.random() < params.mixture_prob):
        part = place(mixtures[int(rng.integers(len(mixtures)))]) | {"gain_db": 0.0}
        song = index.songs[part["song"]]
        cat = category([], any(k.startswith("vocals") for k in song["stems"]))
        parts = [part]
    else:
        types = sorted(stems)
        k = int(rng.integers(params.min_stems, params.max_stems + 1))
        chosen = rng.choice(types, size=k, replace=k > len(types)).tolist()
        parts, used = [], set()
        for t in chosen:
            pool = stems[t]
            fresh = [x for x in pool if x[0] not in used] or pool  # across different songs when possible
            item = fresh[int(rng.integers(len(fresh)))]
            used.add(item[0])
            parts.append(place(item) | {"gain_db": float(rng.uniform(-params.gain_db, params.gain_db))})
        cat = category(chosen)
    weights = np.asarray(params.bitrate_weights or [1.0] * len(params.bitrates), float)
    codecs = sorted(params.codecs)
    codec_p = np.asarray([params.codecs[c] for c in codecs], float)
    return {
        "parts": parts,
        "category": cat,
        "bitrate": int(rng.choice(params.bitrates, p=weights / weights.sum())),
        "codec": str(rng.choice(codecs, p=codec_p / codec_p.sum())),
    }


def _read_part(index: Index, part: dict, frames: int) -> np.ndarray:
    entry = index.songs[part["song"]]["stems"][part["kind"]]
    sr, total = entry["sr"], None
    start = part["offset"]
    need = int(np.ceil(frames * sr / SR)) if sr != SR else frames
    for f in entry["files"]:  # several files of one stem (MoisesDB) are summed
        audio, _ = sf.read(f, start=start, stop=start + need, dtype="float32", always_2d=True)
        audio = fit_length(_stereo(audio), need)
        total = audio if total is None else total + audio
    if sr != SR:
        total = soxr.resample(total, sr, SR)
    return fit_length(total, frames)


def _stereo(audio: np.ndarray) -> np.ndarray:
    return np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio[:, :2]


def make_sample(params: ShardParams, index: Index, split: str, i: int) -> dict | None:
    """One training pair as WebDataset fields, or None if every attempt was silent."""
    frames = int(params.seconds * SR)
    for attempt in range(ATTEMPTS):
        r = recipe(params, index, split, i, attempt)
        target = sum(_read_part(index, p, frames) * 10 ** (p["gain_db"] / 20) for p in r["parts"])
        peak = float(np.abs(target).max())
        if peak >= SILENCE:
            break
    else:
        return None
    target = target / max(1.0, peak / 0.99)  # the encoder takes 16-bit PCM: no clipping
    target, degraded, bitstream, actual, scale = degrade_pair(target, SR, r["codec"], r["bitrate"])
    meta = r | {"bitrate_actual": actual, "split": split, "index": i, "attempt": attempt, "seed": params.seed, "sr": SR,
                "seconds": params.seconds, "scale": scale}  # fmt: skip
    return {
        "__key__": f"{split}-{i:08d}",
        "target.flac": _flac(target),
        "degraded.flac": _flac(degraded),
        r["codec"]: bitstream,  # member named after the codec: mp3, aac or opus
        "json": json.dumps(meta, sort_keys=True).encode(),
    }


def _flac(audio: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1.0, 1.0), SR, format="FLAC", subtype="PCM_24")
    return buf.getvalue()


def shard_path(params: ShardParams, split: str, shard: int) -> str:
    """A local path or an fsspec URL (``s3://bucket/shards``, ``gs://...``) when `out` is one."""
    return f"{params.out.rstrip('/')}/{split}/shard-{shard:06d}.tar"


def write_shard(params: ShardParams, split: str, shard: int) -> dict:
    """Write one shard; a plain function of its arguments (mappable over a cluster).

    The tar is built under a temporary name and then renamed (local) or uploaded
    in one piece (object storage, through fsspec), so no reader sees half a shard:
    :func:`apollo.files.atomic`."""
    import webdataset as wds

    index = load_index(params.index)
    path = shard_path(params, split, shard)
    if not is_url(path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    first = shard * params.samples_per_shard
    last = min(first + params.samples_per_shard, int(params.samples[split]))
    stats = {"samples": 0, "skipped_silent": 0, "bitrate": {}, "category": {}}
    with atomic(path) as tmp, open(tmp, "wb") as f:
        writer = wds.TarWriter(f, mtime=0, user="apollo", group="apollo", mode=0o644)
        for i in range(first, last):
            sample = make_sample(params, index, split, i)
            if sample is None:
                stats["skipped_silent"] += 1
                continue
            meta = json.loads(sample["json"])
            writer.write(sample)
            stats["samples"] += 1
            for key in ("bitrate", "category"):
                stats[key][str(meta[key])] = stats[key].get(str(meta[key]), 0) + 1
        writer.close()
    return stats


def shard_jobs(params: ShardParams) -> list[tuple[ShardParams, str, int]]:
    """Every (params, split, shard) the shards stage writes: the unit a flow maps over workers."""
    return [(params, split, s) for split in SPLITS for s in range(params.shard_count(split))]


def _write_shard(job) -> dict:
    return write_shard(*job)


# where the shards and the index are, and how many processes wrote them, say nothing about the shards:
# left out, the stage and the flow (which resolves paths against its project) write the same summary
NOT_SUMMARISED = ("out", "index", "workers")


def summarise_shards(params: ShardParams, jobs: list, results: list[dict]) -> dict:
    """Aggregate per-shard stats into the stage summary, write `<out>/summary.json`, remove stale shards."""
    recorded = {k: v for k, v in asdict(params).items() if k not in NOT_SUMMARISED}
    summary: dict = {"params": recorded, "splits": {}}
    for (_, split, _), stats in zip(jobs, results):
        agg = summary["splits"].setdefault(split, {"shards": 0, "samples": 0, "skipped_silent": 0, "bitrate": {}, "category": {}})
        agg["shards"] += 1
        for key in ("samples", "skipped_silent"):
            agg[key] += stats[key]
        for key in ("bitrate", "category"):
            for k, v in stats[key].items():
                agg[key][k] = agg[key].get(k, 0) + v
    remove_stale(params)
    write_json(f"{params.out.rstrip('/')}/summary.json", summary, sort_keys=True)
    return summary


def remove_stale(params: ShardParams) -> None:
    """Delete shards a run with more samples left behind: the loader reads every shard-*.tar of a split."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(params.out.rstrip("/"))
    for split in SPLITS:
        wanted = {shard_path(params, split, s).rsplit("/", 1)[-1] for s in range(params.shard_count(split))}
        for path in fs.glob(f"{root}/{split}/shard-*.tar"):
            if path.rsplit("/", 1)[-1] not in wanted:
                fs.rm(path)


def write_all(params: ShardParams) -> dict:
    jobs = shard_jobs(params)
    return summarise_shards(params, jobs, map_progress(_write_shard, jobs, params.workers, "shards"))
