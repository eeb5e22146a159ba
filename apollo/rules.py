"""What each params.yaml setting accepts beyond its type: `RULES` (one per field, keyed ``section.field``) and
`cross_rules` (rules across fields and sections). `apollo.config` applies them; see its docstring."""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from apollo.params import CODECS, MPEG1_L3_KBPS, PRECISIONS, READER_KINDS, SPLITS, SR

if typing.TYPE_CHECKING:
    from apollo.config import Params


@dataclass(frozen=True)
class Rule:
    """What one field (or each element / value of a list or mapping field) accepts beyond its type."""

    lo: float | None = None  # lower bound, included unless lo_open
    hi: float | None = None  # upper bound, included unless hi_open
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple = ()
    item: type | None = None  # a list's element type / a mapping's value type, where the hint has none
    each: Rule | None = None  # the rule each element / value follows
    keys: tuple = ()  # a mapping's allowed keys...
    all_keys: bool = False  # ...and whether it needs every one
    length: int | None = None  # a list's exact length
    nonempty: bool = False  # text, list or mapping
    unique: bool = False  # list elements
    test: Callable[[typing.Any], str | None] | None = None  # last word: a value -> "must be ..." or None


def _at_least(lo, hi=None) -> Rule:
    return Rule(lo=lo, hi=hi)


def _above(lo, hi=None) -> Rule:
    return Rule(lo=lo, lo_open=True, hi=hi)


ANY = Rule()
PATH = Rule(nonempty=True)
COUNT = _at_least(1)
WORKERS = _at_least(0)  # 0: all cores
SEED = _at_least(0, 2**32 - 1)  # numpy and accelerate.set_seed take 32-bit non-negative seeds
POSITIVE = _above(0)
FRACTION = Rule(lo=0, hi=1, hi_open=True)
PROBABILITY = Rule(lo=0, hi=1)
STEMS = _at_least(1, 8)  # the paper's 1-8 stems per mix


def _power_of_two(value: int) -> str | None:
    return None if value > 0 and value & (value - 1) == 0 else "must be a power of two"


def _odd(value: int) -> str | None:
    return None if value % 2 else "must be odd (a centred kernel)"


def _processes(value) -> str | None:
    if isinstance(value, str):
        return None if value == "auto" else "must be auto or a count"
    return None if value >= 1 else "must be at least 1"


# Bitrates (kbps) each codec can produce for 44.1 kHz stereo:
# - mp3: LAME at 44.1 kHz is MPEG-1 Layer III (32-320 kbps, its fixed table; other values are silently rounded);
#   24 kbps, the paper's lowest setting, is encoded at 32 kbps and the shards record both rates;
# - aac: ffmpeg's native encoder accepts any rate but does not get below about 24 kbps nor above about 256 kbps;
# - opus: libopus's range, 6-510 kbps (ffmpeg refuses more).
CODEC_KBPS = {
    "mp3": (24,) + tuple(MPEG1_L3_KBPS[1:]),
    "aac": tuple(range(24, 257)),
    "opus": tuple(range(6, 511)),
}
MP3_KBPS = CODEC_KBPS["mp3"]


def _kbps_text(codec: str) -> str:
    rates = CODEC_KBPS[codec]
    contiguous = list(rates) == list(range(rates[0], rates[-1] + 1))
    return f"{rates[0]}-{rates[-1]}" if contiguous else ", ".join(map(str, rates))


RULES: dict[str, Rule] = {
    # the generator; the data are 44.1 kHz throughout (synth, shards, evaluation)
    "model.sr": Rule(choices=(SR,)),
    "model.win_ms": _at_least(4, 1000),  # the published 80-band split needs n_fft >= 160 (3.6 ms at 44.1 kHz)
    "model.feature_dim": _at_least(2),
    "model.layers": COUNT,
    "model.heads": COUNT,
    "model.tcn_blocks": COUNT,
    "model.tcn_kernel": Rule(lo=1, test=_odd),
    "model.causal": ANY,
    "model.band_widths": Rule(nonempty=True, each=COUNT),  # null: the published split
    "model.max_positions": COUNT,
    "model.residual": ANY,
    "model.relative_output": ANY,
    "model.cutoff_reference_hz": _at_least(0),
    "model.cutoff_reference_fraction": Rule(lo=0, hi=1),
    "model.band_tilt": ANY,
    "model.hole_gate_db": Rule(hi=0),  # null: off
    "model.hole_level_db": Rule(hi=0),
    "model_card.out": PATH,
    "synth.out": PATH,
    "synth.songs": COUNT,
    "synth.seconds": POSITIVE,
    "synth.seed": SEED,
    "synth.soundfont": PATH,
    "synth.drumkits": PATH,
    "synth.drum_soundfonts": Rule(item=str),
    "synth.samples": PATH,
    "synth.real_prob": Rule(lo=0, hi=1),
    "synth.heldout_songs": _at_least(0),
    "synth.heldout_fraction": FRACTION,
    "synth.split_seed": SEED,
    "synth.band_limit_db": POSITIVE,
    "synth.exciter": ANY,
    "synth.workers": WORKERS,
    "sources.kind": Rule(choices=READER_KINDS),
    "sources.root": PATH,
    "sources.val_fraction": FRACTION,
    "sources.test_fraction": FRACTION,
    "sources.split_seed": SEED,
    "sad.out": PATH,
    "sad.workers": WORKERS,
    "sad.detection.frame_ms": _at_least(1, 1000),
    "sad.detection.window_s": POSITIVE,
    "sad.detection.hop_s": POSITIVE,
    "sad.detection.percentile": _at_least(0, 100),
    "sad.detection.floor": _at_least(0),
    "sad.detection.active_fraction": FRACTION,  # a window is kept above it: 1 would keep nothing
    "shards.out": PATH,
    "shards.seed": SEED,
    "shards.samples": Rule(item=int, keys=SPLITS, all_keys=True, each=COUNT),
    "shards.samples_per_shard": COUNT,
    "shards.seconds": POSITIVE,
    "shards.mixture_prob": PROBABILITY,
    "shards.min_stems": STEMS,
    "shards.max_stems": STEMS,
    "shards.gain_db": _at_least(0, 60),
    "shards.bitrates": Rule(item=int, nonempty=True, unique=True, each=COUNT),  # each codec's own: cross_rules
    "shards.bitrate_weights": Rule(item=float, each=_at_least(0)),  # null: uniform; length: cross_rules
    "shards.codecs": Rule(item=float, keys=CODECS, nonempty=True, each=POSITIVE),  # name: weight
    "shards.workers": WORKERS,
    "train.out": PATH,
    "train.seed": SEED,
    "train.steps": COUNT,
    "train.batch_size": COUNT,
    "train.crop_seconds": POSITIVE,
    "train.lr_g": POSITIVE,
    "train.lr_d": POSITIVE,
    "train.weight_decay": _at_least(0),
    "train.betas_g": Rule(item=float, length=2, each=FRACTION),
    "train.betas_d": Rule(item=float, length=2, each=FRACTION),
    "train.steps_per_epoch": COUNT,
    "train.lr_gamma": Rule(lo=0, lo_open=True, hi=1),
    "train.lr_step_epochs": COUNT,
    "train.grad_clip": POSITIVE,
    "train.loss.alpha": _at_least(0),
    "train.loss.beta": _at_least(0),
    "train.loss.gamma": _at_least(0),
    "train.loss.delta": _at_least(0),
    "train.loss.log_pool_hz": _at_least(0),
    "train.loss.log_pool_ms": _at_least(0),
    "train.loss.epsilon": _at_least(0),
    "train.loss.band_pool_hz": _at_least(0),
    "train.loss.band_pool_ms": _at_least(0),
    "train.disc_windows": Rule(item=int, nonempty=True, unique=True, each=Rule(lo=16, test=_power_of_two)),
    "train.disc_channels": COUNT,
    "train.mixed_precision": Rule(choices=PRECISIONS),
    "train.grad_accum": COUNT,
    "train.eval_every": COUNT,
    "train.patience": COUNT,
    "train.checkpoint_every": COUNT,
    "train.val_batches": COUNT,
    "train.workers": WORKERS,
    "train.processes": Rule(test=_processes),  # auto | a count
    "evaluate.out": PATH,
    "evaluate.max_samples": _at_least(0),  # 0: the whole test split
    "evaluate.visqol": ANY,
    "evaluate.examples": _at_least(0),
    "evaluate.chunk_seconds": _at_least(1),  # as `apollo restore --chunk-seconds`
    "evaluate.real_audio": ANY,  # "" skips the real-audio set
    "evaluate.recordings": ANY,  # "" scores every file of real_audio
    "evaluate.real_clips": COUNT,
    "evaluate.real_mixtures": ANY,  # "" skips the real-mixtures set
    "evaluate.real_mixture_samples": COUNT,
    "evaluate.real_seconds": POSITIVE,
    "evaluate.real_bitrates": Rule(item=int, nonempty=True, unique=True, each=Rule(choices=MP3_KBPS)),  # MP3
}


def cross_rules(p: Params) -> Iterable[tuple[tuple[str, ...], str | None]]:
    """Rules across fields: (the fields involved, the mistake or None), on the parsed values."""
    m, sh, tr, sad = p.model, p.shards, p.train, p.sad.detection
    n, h = m.feature_dim, m.heads
    yield ("model.feature_dim", "model.heads"), (
        f"model.feature_dim ({n}) must split into model.heads ({h}) heads of even size"
        if n % h or (n // h) % 2 else None)  # fmt: skip
    bins = m.n_fft // 2 + 1
    yield ("model.band_widths", "model.sr", "model.win_ms"), (
        f"model.band_widths add up to {sum(m.widths)} bins; the STFT has {bins} (model.win_ms {m.win_ms})"
        if sum(m.widths) != bins else None)  # fmt: skip
    yield ("model.band_widths", "model.sr", "model.win_ms", "model.max_positions"), (
        f"model.max_positions ({m.max_positions}) must be at least the number of bands ({len(m.widths)})"
        if len(m.widths) > m.max_positions else None)  # fmt: skip
    yield ("shards.min_stems", "shards.max_stems"), (
        f"shards.min_stems ({sh.min_stems}) must not exceed shards.max_stems ({sh.max_stems})"
        if sh.min_stems > sh.max_stems else None)  # fmt: skip
    weights = sh.bitrate_weights
    yield ("shards.bitrates", "shards.bitrate_weights"), (
        f"shards.bitrate_weights has {len(weights)} weight(s) for {len(sh.bitrates)} bitrate(s)"
        if weights is not None and len(weights) != len(sh.bitrates) else None)  # fmt: skip
    yield ("shards.bitrate_weights",), (
        "shards.bitrate_weights must not all be 0" if weights and not sum(weights) else None)
    for codec in sh.codecs:
        bad = [b for b in sh.bitrates if b not in CODEC_KBPS[codec]]
        yield ("shards.bitrates", "shards.codecs"), (
            f"shards.bitrates: {', '.join(map(str, bad))} kbps not supported by {codec} ({_kbps_text(codec)})"
            if bad else None)  # fmt: skip
    src = p.sources
    yield ("sources.val_fraction", "sources.test_fraction"), (
        f"sources.val_fraction + sources.test_fraction ({src.val_fraction + src.test_fraction:g}) must be below 1"
        if src.val_fraction + src.test_fraction >= 1 else None)  # fmt: skip
    for name in ("window_s", "hop_s"):
        frames = int(round(getattr(sad, name) * 1000 / sad.frame_ms))
        yield (f"sad.detection.{name}", "sad.detection.frame_ms"), (
            f"sad.detection.{name} ({getattr(sad, name):g} s) must be at least one frame (frame_ms {sad.frame_ms:g})"
            if frames < 1 else None)  # fmt: skip
    yield ("shards.seconds", "sad.detection.window_s"), (
        f"shards.seconds ({sh.seconds:g}) must fit in a kept SAD window (sad.detection.window_s {sad.window_s:g})"
        if sh.seconds > sad.window_s else None)  # fmt: skip
    yield ("train.crop_seconds", "shards.seconds"), (
        f"train.crop_seconds ({tr.crop_seconds:g}) must not exceed shards.seconds ({sh.seconds:g})"
        if tr.crop_seconds > sh.seconds else None)  # fmt: skip
    crop = int(tr.crop_seconds * m.sr)
    yield ("train.crop_seconds", "train.disc_windows", "model.sr"), (
        f"train.crop_seconds ({tr.crop_seconds:g} s, {crop} samples) is shorter than the largest "
        f"train.disc_windows ({max(tr.disc_windows)})" if crop < max(tr.disc_windows) else None)  # fmt: skip
    if src.kind == "synth":  # the pipeline's default corpus feeds the SAD stage
        yield ("synth.songs", "sources.kind"), (
            f"synth.songs ({p.synth.songs}) must be at least 3 with sources.kind synth (every split needs a song)"
            if p.synth.songs < 3 else None)  # fmt: skip
        yield ("synth.seconds", "sad.detection.window_s", "sources.kind"), (
            f"synth.seconds ({p.synth.seconds:g}) must be at least sad.detection.window_s ({sad.window_s:g})"
            if p.synth.seconds < sad.window_s else None)  # fmt: skip
