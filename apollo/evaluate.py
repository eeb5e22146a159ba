"""Evaluation: the restored output and the unprocessed codec output, scored side by side.

Three sets of (target, degraded) pairs at 44.1 kHz:

* ``synthetic``: the test shards (every sample, or the first `max_samples`);
* ``real_audio``: recorded audio (by default Debian's ``sonic-pi-samples``), the
  first `real_seconds` of evenly spaced files, encoded at every bitrate of
  `real_bitrates`; files the corpus trains on (``recordings.json`` of the synth
  stage) are left out;
* ``real_mixtures``: mixtures of held-out real recordings (the synth stage's
  held-out songs: kits, loops, strums, instruments training never sees), mixed
  and encoded exactly as the shards stage mixes stems (``shards.make_sample``).

Each pair is restored by the generator (the same chunked path as ``apollo
restore``), then SDR, SI-SNR, LSD (see ``apollo.metrics``) and ViSQOL v3 audio
mode (``visqol-python``: mono mix, resampled to 48 kHz with soxr) are computed
for restored and degraded against the target, with the high-band level error
(``apollo.metrics.high_band_level_error``: the band from the codec's cutoff to
20 kHz), and averaged overall, per bitrate and per category (the paper's Table
II groups); the level error is summarised by its median, the others by means.

The sets are streamed: one pair's audio at a time, plus the few kept for the
report's spectrograms, so memory does not grow with the test split.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from apollo import metrics
from apollo.audio.activity import active_segments
from apollo.audio.codec import degrade_pair
from apollo.data.shards import Index, index_of, make_sample
from apollo.data.sources import read_folder, read_stem, stem_type
from apollo.data.loader import decode_pair, shard_urls
from apollo.errors import ApolloError
from apollo.params import SR, EvalParams, SADParams, ShardParams, ShardsConfig

VISQOL_SR = 48000
METRICS = ("sdr", "si_snr", "visqol", "lsd", "hf_err")  # higher is better except LSD and the high-band error
MEDIAN = ("hf_err",)  # one clip with an empty reference band would swamp a mean
SYSTEMS = ("restored", "mp3")  # "mp3": the unprocessed codec output, whatever the codec


class EvaluationError(ApolloError):
    pass


def synthetic_pairs(shards: str | Path, max_samples: int = 0) -> Iterator[dict]:
    """The test split in shard order, read as iterated: {key, target, degraded, bitrate, bitrate_actual, category}."""
    import webdataset as wds

    try:  # here, not on the first pair: a wrong folder is reported before anything runs
        urls = shard_urls(shards)
    except FileNotFoundError as e:
        raise EvaluationError(str(e)) from None
    samples = wds.WebDataset(urls, shardshuffle=False, empty_check=False)
    return map(_shard_pair, itertools.islice(samples, max_samples or None))


def _shard_pair(sample: dict) -> dict:
    degraded, target, meta = decode_pair(sample)
    return {"key": sample["__key__"], "target": target, "degraded": degraded, "bitrate": meta["bitrate"],
            "bitrate_actual": meta["bitrate_actual"], "category": meta["category"]}  # fmt: skip


def trained_recordings(path: str | Path) -> set[str]:
    """The recordings the corpus trains on (``recordings.json`` of the synth stage), resolved; none for ""."""
    if not path:
        return set()
    if not Path(path).is_file():
        raise EvaluationError(f"{path}: no list of the corpus' recordings (run the synth stage, or set evaluate.recordings: \"\")")
    return {str(Path(p).resolve()) for p in json.loads(Path(path).read_text())["train"]}


def real_audio_pairs(
    folder: str | Path, clips: int, seconds: float, bitrates, exclude: set[str] = frozenset()
) -> Iterator[dict]:
    """Evenly spaced audio files of `folder` (sorted by name, at least `seconds` long, not in `exclude`): their
    first `seconds`, as MP3 at each bitrate, encoded as iterated. The files are chosen (or the error raised) on
    the call."""
    audio_files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".flac", ".wav")
                         and str(p.resolve()) not in exclude)  # fmt: skip
    # ViSQOL needs a few seconds to compare; one-shot samples shorter than a clip are left out
    files = [p for p in audio_files if sf.info(str(p)).duration >= seconds]
    if not files:
        raise EvaluationError(f"no .flac/.wav files of at least {seconds} s in {folder} "
                              "(install sonic-pi-samples, or set evaluate.real_audio)")  # fmt: skip
    chosen = [files[i] for i in np.unique(np.linspace(0, len(files) - 1, min(clips, len(files))).round().astype(int))]
    return (pair for path in chosen for pair in _encoded(path, seconds, bitrates))


def _encoded(path: Path, seconds: float, bitrates) -> Iterator[dict]:
    audio, sr = sf.read(path, dtype="float32", always_2d=True, frames=int(seconds * 96000))
    audio = soxr.resample(audio, sr, SR).astype(np.float32) if sr != SR else audio
    audio = audio[: int(seconds * SR)]
    for kbps in bitrates:
        target, degraded, _, actual, _ = degrade_pair(audio, SR, "mp3", int(kbps))  # scaled as the shards
        yield {"key": f"{path.stem}@{kbps}", "target": target.T.copy(), "degraded": degraded.T.astype(np.float32),
               "bitrate": int(kbps), "bitrate_actual": actual, "category": "real audio"}  # fmt: skip


def heldout_index(folder: str | Path, sad: SADParams) -> Index:
    """An index of the stems (not the mixtures) of the songs under `folder`, every song in the test split,
    with SAD's kept windows: the held-out songs, mixed by :func:`make_sample` as the test shards are."""
    songs = {}
    for song in read_folder(Path(folder)) if Path(folder).is_dir() else []:
        stems = {}
        for name, files in sorted(song.stems.items()):
            audio, sr = read_stem(files)
            segments = active_segments(audio, sr, sad)
            if segments:
                stems[stem_type(name)] = {"files": list(files), "sr": sr, "segments": segments}
        if stems:
            songs[song.name] = {"split": "test", "stems": stems}
    return index_of(songs)


def mixture_pairs(folder: str | Path, shards: ShardsConfig, sad: SADParams, samples: int) -> Iterator[dict]:
    """`samples` mixtures of the songs under `folder` (stems only), made by the shards stage's own recipe:
    1-8 stems across songs at +-gain_db, a `shards.seconds` crop inside SAD's kept windows, a bitrate; made
    as iterated. The songs are read (or the error raised) on the call."""
    index = heldout_index(folder, sad)
    if not index.stems["test"]:
        raise EvaluationError(f"no held-out songs with audible stems in {folder} (run the synth stage, "
                              "or set evaluate.real_mixtures: \"\")")  # fmt: skip
    params = ShardParams(index="", **dataclasses.asdict(shards))
    made = ((i, make_sample(params, index, "test", i)) for i in range(samples))
    return (_shard_pair(s) | {"key": f"mix-{i:04d}"} for i, s in made if s is not None)


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


def score(target: np.ndarray, estimate: np.ndarray, with_visqol: bool = True, edge_hz: float = 16000.0) -> dict:
    out = {"sdr": metrics.sdr(target, estimate), "si_snr": metrics.si_snr(target, estimate),
           "lsd": metrics.lsd(target, estimate), "hf_err": metrics.high_band_level_error(target, estimate, edge_hz, SR)}  # fmt: skip
    if with_visqol:
        out["visqol"] = visqol(target, estimate)
    return out


def score_pair(pair: dict, with_visqol: bool) -> dict:
    row = {k: pair[k] for k in ("key", "bitrate", "bitrate_actual", "category")}
    edge = metrics.high_band_edge(pair["degraded"], SR)
    for system, estimate in (("restored", pair["restored"]), ("mp3", pair["degraded"])):
        row[system] = score(pair["target"], estimate, with_visqol, edge)
    row["edge_hz"] = round(edge)
    return row


def pick_examples(pairs: list[dict], count: int) -> list[dict]:
    """The lowest-bitrate pairs, one per category first: where restoration matters most."""
    ordered = sorted(pairs, key=lambda p: (p["bitrate"], p["key"]))
    chosen, seen = [], set()
    for p in ordered:
        if len(chosen) < count and p["category"] not in seen:
            chosen.append(p)
            seen.add(p["category"])
    taken = {p["key"] for p in chosen}
    return chosen + [p for p in ordered if p["key"] not in taken][: count - len(chosen)]


def pick_dark_bright(pairs: list[dict], count: int) -> list[dict]:
    """Of the lowest-bitrate pairs, the darkest and the brightest originals (16-20 kHz level re full band):
    where a high band that ignores the music shows."""
    if not pairs or count <= 0:
        return []
    low = min(p["bitrate"] for p in pairs)
    ordered = sorted((p for p in pairs if p["bitrate"] == low), key=lambda p: (brightness(p["target"]), p["key"]))
    return list({id(p): p for p in [ordered[0], ordered[-1]]}.values())[:count]


def brightness(audio: np.ndarray) -> float:
    level = metrics.long_term_level_db(audio)
    return metrics.band_level_db(level, 16000, 20000, SR) - metrics.band_level_db(level, 0, SR / 2, SR)


def run_set(
    generator, pairs: Iterable[dict], params: EvalParams, examples: int, what: str = "scored", total: int | None = None,
    pick=pick_examples,
) -> tuple[list[dict], list[dict]]:
    """Restore and score one pair at a time: (a score row per pair, the `examples` pairs to draw, with their restored audio)."""
    from apollo.progress import Ticker
    from apollo.restore import restore_array

    rows, kept = [], []
    # scoring stays in this process: ViSQOL's numba kernels are multi-threaded already, and a forked
    # pool deadlocks once torch's OpenMP threads have run in the parent
    ticker = Ticker(f"evaluate {what}", total)
    for pair in pairs:
        pair["restored"] = restore_array(generator, pair["degraded"].T, params.chunk_seconds).T  # as `apollo restore`
        rows.append(score_pair(pair, params.visqol))
        pair["edge_hz"] = rows[-1]["edge_hz"]
        ticker.update(len(rows), lsd_restored=rows[-1]["restored"]["lsd"], lsd_mp3=rows[-1]["mp3"]["lsd"])
        # a pair left out of the examples now never gets back in (the rule only ever prefers lower bitrates
        # and new categories), so picking from the kept ones plus this one equals picking from all at the end
        kept = pick(kept + [pair], examples)
    return rows, kept


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
            entry[system] = {m: round(float((np.median if m in MEDIAN else np.mean)([r[system][m] for r in members])), 4)
                             for m in names}  # fmt: skip
        out[str(name)] = entry
    return out


def report_set(rows: list[dict], categories: bool = True) -> dict:
    """One set's block of metrics.json: the same keys for every set (per category only where it means something)."""
    out = {"samples": len(rows), "overall": summarise([{**r, "all": "all"} for r in rows], "all")["all"],
           "per_bitrate": summarise(rows, "bitrate")}  # fmt: skip
    if categories:
        out["per_category"] = summarise(rows, "category")
    return out


@dataclass(frozen=True)
class Mixing:
    """How the shards stage mixes stems: what the real-mixtures set is made with."""

    shards: ShardsConfig
    sad: SADParams


def evaluate(generator, shards: str | Path, params: EvalParams, mixing: Mixing | None = None) -> tuple[dict, list[dict]]:
    """Score the test shards, the real-audio set and the real mixtures: ({"sets": {name: block}}, the pairs to
    draw: low-bitrate synthetic ones, then the darkest and brightest real recording).

    The result holds numbers only: it is DVC's metrics file (the methods' descriptions are in report.md)."""
    synthetic = synthetic_pairs(shards, params.max_samples)
    real = mixtures = None
    if params.real_audio:  # its files are chosen now: a wrong folder fails before the long synthetic run
        real = real_audio_pairs(params.real_audio, params.real_clips, params.real_seconds, params.real_bitrates,
                                trained_recordings(params.recordings))  # fmt: skip
    if params.real_mixtures and mixing is not None:
        mixtures = mixture_pairs(params.real_mixtures, mixing.shards, mixing.sad, params.real_mixture_samples)
    rows, examples = run_set(generator, synthetic, params, params.examples, "synthetic", params.max_samples or None)
    if not rows:
        raise EvaluationError(f"no test samples in {shards}")
    sets = {"synthetic": report_set(rows)}
    if real is not None:  # one category only: no per-category table
        real_rows, extremes = run_set(generator, real, params, 2 if params.examples else 0, "real audio",
                                      pick=pick_dark_bright)  # fmt: skip
        sets["real_audio"] = report_set(real_rows, categories=False)
        examples = examples + extremes
    if mixtures is not None:
        mix_rows = run_set(generator, mixtures, params, 0, "real mixtures", params.real_mixture_samples)[0]
        if not mix_rows:
            raise EvaluationError(f"no audible mixtures of the held-out songs in {params.real_mixtures}")
        sets["real_mixtures"] = report_set(mix_rows)
    return {"sets": sets}, examples


def evaluate_checkpoint(
    checkpoint: str | Path, shards: str | Path, params: EvalParams, device: str = "cpu", mixing: Mixing | None = None
) -> dict:
    """Load a generator (ours or a published checkpoint), evaluate it, write the report to `params.out`."""
    import torch

    from apollo.checkpoint import load_generator
    from apollo.report import write_report

    generator = load_generator(checkpoint, device).eval()
    with torch.inference_mode():
        result, examples = evaluate(generator, shards, params, mixing)
    write_report(params, result, examples, str(checkpoint))
    return result
