"""Evaluation: the restored output and the unprocessed codec output, scored side by side.

Two sets, each a list of (target, degraded) pairs at 44.1 kHz:

* ``synthetic``: the test shards (every sample, or the first `max_samples`);
* ``real_audio``: recorded audio the project does not synthesise (by default
  Debian's ``sonic-pi-samples``), the first `real_seconds` of evenly spaced
  files, encoded at every bitrate of `real_bitrates`.

Each pair is restored by the generator (the same chunked path as ``apollo
restore``), then SDR, SI-SNR, LSD (see ``apollo.metrics``) and ViSQOL v3 audio
mode (``visqol-python``: mono mix, resampled to 48 kHz with soxr) are computed
for restored and degraded against the target, and averaged overall, per
bitrate and per category (the paper's Table II groups).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from apollo import metrics
from apollo.audio.codec import degrade_pair
from apollo.data.loader import decode_pair, shard_urls
from apollo.errors import ApolloError

SR = 44100
VISQOL_SR = 48000
METRICS = ("sdr", "si_snr", "visqol", "lsd")  # higher is better except LSD
SYSTEMS = ("restored", "mp3")  # "mp3": the unprocessed codec output, whatever the codec


@dataclass(frozen=True)
class EvalParams:
    out: str = "data/eval"
    max_samples: int = 0  # 0: the whole test split
    visqol: bool = True
    examples: int = 3  # spectrogram PNGs (lowest bitrates first)
    chunk_seconds: float = 10.0
    real_audio: str = "/usr/share/sonic-pi/samples"  # "" to skip the real-audio set
    real_clips: int = 16
    real_seconds: float = 3.0
    real_bitrates: tuple = (24, 32, 48, 64, 96, 128)


class EvaluationError(ApolloError):
    pass


def synthetic_pairs(shards: str | Path, max_samples: int = 0) -> list[dict]:
    """The test split in shard order: {key, target, degraded, bitrate, bitrate_actual, category}."""
    import webdataset as wds

    try:
        urls = shard_urls(shards)
    except FileNotFoundError as e:
        raise EvaluationError(str(e)) from None
    pairs = []
    for sample in wds.WebDataset(urls, shardshuffle=False, empty_check=False):
        if max_samples and len(pairs) >= max_samples:
            break
        degraded, target, meta = decode_pair(sample)
        pairs.append({"key": sample["__key__"], "target": target, "degraded": degraded, "bitrate": meta["bitrate"],
                      "bitrate_actual": meta["bitrate_actual"], "category": meta["category"]})  # fmt: skip
    return pairs


def real_audio_pairs(folder: str | Path, clips: int, seconds: float, bitrates) -> list[dict]:
    """Evenly spaced audio files of `folder` (sorted by name, at least `seconds` long): their first `seconds`, as MP3 at each bitrate."""
    audio_files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".flac", ".wav"))
    # ViSQOL needs a few seconds to compare; one-shot samples shorter than a clip are left out
    files = [p for p in audio_files if sf.info(str(p)).duration >= seconds]
    if not files:
        raise EvaluationError(f"no .flac/.wav files of at least {seconds} s in {folder} "
                              "(install sonic-pi-samples, or set evaluate.real_audio)")  # fmt: skip
    chosen = [files[i] for i in np.unique(np.linspace(0, len(files) - 1, min(clips, len(files))).round().astype(int))]
    pairs = []
    for path in chosen:
        audio, sr = sf.read(path, dtype="float32", always_2d=True, frames=int(seconds * 96000))
        audio = soxr.resample(audio, sr, SR).astype(np.float32) if sr != SR else audio
        audio = audio[: int(seconds * SR)]
        for kbps in bitrates:
            target, degraded, _, actual, _ = degrade_pair(audio, SR, "mp3", int(kbps))  # scaled as the shards
            pairs.append({"key": f"{path.stem}@{kbps}", "target": target.T.copy(),
                          "degraded": degraded.T.astype(np.float32), "bitrate": int(kbps),
                          "bitrate_actual": actual, "category": "real audio"})  # fmt: skip
    return pairs


def restore_pairs(generator, pairs: list[dict], chunk_seconds: float) -> None:
    """Adds `restored` (channels, samples) to every pair, through the CLI's chunked restore."""
    from rich.progress import track

    from apollo.restore import restore_array

    for pair in track(pairs, description="restoring", transient=True):
        pair["restored"] = restore_array(generator, pair["degraded"].T, chunk_seconds).T


_visqol_api = None


def visqol(reference: np.ndarray, estimate: np.ndarray, sr: int = SR) -> float:
    """ViSQOL v3 audio mode MOS-LQO (1-5) of the mono mixes at 48 kHz."""
    global _visqol_api
    if _visqol_api is None:  # one per process: building it loads the SVR model
        import logging

        from visqol import VisqolApi

        logging.getLogger("visqol").setLevel(logging.ERROR)
        _visqol_api = VisqolApi()
        _visqol_api.create(mode="audio")
    ref, est = (soxr.resample(np.asarray(x, np.float64).mean(0), sr, VISQOL_SR) for x in (reference, estimate))
    try:
        return float(_visqol_api.measure_from_arrays(ref, est, VISQOL_SR).moslqo)
    except ValueError as e:  # too short to hold one ViSQOL patch
        raise EvaluationError(f"ViSQOL cannot score a {ref.size / VISQOL_SR:.2f} s clip ({e}); turn ViSQOL off") from None


def score(target: np.ndarray, estimate: np.ndarray, with_visqol: bool = True) -> dict:
    out = {"sdr": metrics.sdr(target, estimate), "si_snr": metrics.si_snr(target, estimate),
           "lsd": metrics.lsd(target, estimate)}  # fmt: skip
    if with_visqol:
        out["visqol"] = visqol(target, estimate)
    return out


def score_pair(pair: dict, with_visqol: bool) -> dict:
    row = {k: pair[k] for k in ("key", "bitrate", "bitrate_actual", "category")}
    for system, estimate in (("restored", pair["restored"]), ("mp3", pair["degraded"])):
        row[system] = score(pair["target"], estimate, with_visqol)
    return row


def score_pairs(pairs: list[dict], with_visqol: bool) -> list[dict]:
    # in this process: ViSQOL's numba kernels are multi-threaded already, and a forked pool
    # deadlocks once torch's OpenMP threads have run in the parent
    from rich.progress import track

    return [score_pair(p, with_visqol) for p in track(pairs, description="scoring", transient=True)]


def summarise(rows: list[dict], by: str) -> dict:
    """{group: {n, restored: {metric: mean}, mp3: {...}}} grouped by a row field."""
    groups = defaultdict(list)
    for row in rows:
        groups[row[by]].append(row)
    out = {}
    for name in sorted(groups, key=lambda g: (isinstance(g, str), g)):
        members = groups[name]
        entry = {"n": len(members)}
        if by == "bitrate":
            entry["bitrate_actual"] = sorted({r["bitrate_actual"] for r in members})
        for system in SYSTEMS:
            names = [m for m in METRICS if m in members[0][system]]
            entry[system] = {m: round(float(np.mean([r[system][m] for r in members])), 4) for m in names}
        out[str(name)] = entry
    return out


def report_set(rows: list[dict], categories: bool = True) -> dict:
    out = {"overall": summarise([{**r, "all": "all"} for r in rows], "all")["all"],
           "per_bitrate": summarise(rows, "bitrate")}  # fmt: skip
    if categories:
        out["per_category"] = summarise(rows, "category")
    return out


def evaluate(generator, shards: str | Path, params: EvalParams) -> tuple[dict, dict[str, list[dict]]]:
    """Score the test shards (and the real-audio set); returns (metrics, pairs by set) for the report."""
    sets = {"synthetic": synthetic_pairs(shards, params.max_samples)}
    if not sets["synthetic"]:
        raise EvaluationError(f"no test samples in {shards}")
    if params.real_audio:
        sets["real_audio"] = real_audio_pairs(params.real_audio, params.real_clips, params.real_seconds,
                                              params.real_bitrates)  # fmt: skip
    rows = {}
    for name, pairs in sets.items():
        restore_pairs(generator, pairs, params.chunk_seconds)
        rows[name] = score_pairs(pairs, params.visqol)
    result = report_set(rows["synthetic"])
    if "real_audio" in rows:
        result["real_audio"] = report_set(rows["real_audio"], categories=False)
    # numbers only: this is DVC's metrics file (the methods' descriptions are in report.md)
    result["samples"] = {name: len(r) for name, r in rows.items()}
    return result, sets


def evaluate_checkpoint(checkpoint: str | Path, shards: str | Path, params: EvalParams, device: str = "cpu") -> dict:
    """Load a generator (ours or a published checkpoint), evaluate it, write the report to `params.out`."""
    import torch

    from apollo.checkpoint import load_generator
    from apollo.report import write_report

    generator = load_generator(checkpoint, device).eval()
    with torch.inference_mode():
        result, sets = evaluate(generator, shards, params)
    write_report(params.out, result, sets, params.examples, str(checkpoint))
    return result
