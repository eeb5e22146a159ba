"""Shard generation throughput vs the codec alone, measured in one run.

Generates shards (mixing, LAME encode + decode, FLAC, tar) over all cores and
reports seconds of audio per wall second, beside the codec-only rate: LAME
encode + decode of the very same target audio at the same bitrates, over the
same number of processes. Target: shards >= 70 % of codec-only.
Uses the pipeline's SAD index (run `make repro` first) unless --index is given.
Usage: python bench/shards_throughput.py [--samples 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import tarfile
import tempfile
import time
from pathlib import Path

import soundfile as sf

from apollo.audio.codec import mp3_round_trip
from apollo.config import load_params
from apollo.data.shards import write_all
from apollo.params import SR, ShardParams


def codec_only(job):
    audio, kbps = job
    mp3_round_trip(audio, SR, kbps)
    return len(audio) / SR


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--index", default=None)
    args = ap.parse_args()
    base = load_params().shard_params()
    index = args.index or base.index
    if not Path(index).exists():
        raise SystemExit(f"no SAD index at {index}: run `make repro` first")
    with tempfile.TemporaryDirectory() as tmp:
        params = ShardParams(**{**base.__dict__, "index": index, "out": tmp, "workers": args.workers,
                                "samples": {"train": args.samples}, "samples_per_shard": max(1, args.samples // (2 * args.workers))})  # fmt: skip
        start = time.perf_counter()
        summary = write_all(params)
        wall = time.perf_counter() - start
        n = summary["splits"]["train"]["samples"]
        jobs = []
        for shard in sorted(Path(tmp).rglob("*.tar")):
            with tarfile.open(shard) as tar:
                members = {m.name: m for m in tar.getmembers()}
                for name in sorted(members):
                    if name.endswith(".target.flac"):
                        audio, _ = sf.read(io.BytesIO(tar.extractfile(members[name]).read()), dtype="float32")
                        meta = json.loads(tar.extractfile(members[name.replace("target.flac", "json")]).read())
                        jobs.append((audio, meta["bitrate"]))
    audio_seconds = n * params.seconds
    with mp.get_context("fork").Pool(args.workers) as pool:
        pool.map(codec_only, jobs[: args.workers])  # warm the workers
        start = time.perf_counter()
        codec_seconds = sum(pool.map(codec_only, jobs))
        codec_wall = time.perf_counter() - start
    shards_rate, codec_rate = audio_seconds / wall, codec_seconds / codec_wall
    print(f"{n} samples x {params.seconds:g} s on {args.workers} processes")
    print(f"shards:     {shards_rate:7.1f} s of audio per wall s ({n / wall:.1f} samples/s)")
    print(f"codec only: {codec_rate:7.1f} s of audio per wall s (LAME encode + decode)")
    print(f"ratio: {100 * shards_rate / codec_rate:.0f} % of codec-only (target >= 70 %)")


if __name__ == "__main__":
    main()
