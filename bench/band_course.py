"""How far the made band's level moves from frame to frame, against the original's, and what a calmer course scores.

bench/oracle_band.py found most of ViSQOL's headroom in the band's course per frame. Here, per clip, the
made band's level per frame (log power over the cutoff, the generator's STFT) is compared with the
original's over the frames within 60 dB of the original's loudest: their correlation, and the ratio of
their spreads (standard deviations of the log level; above 1: the made band moves more than the original's).
That is measured on the validation shards, which nothing was tuned on, and on the evaluation's real sets.

Then each real clip is scored per bitrate (LSD, SI-SNR - the MP3's, ViSQOL, hf_err) with the made band's
course scaled around its clip's mean log level by each `--course K` (its phases and spectral shape kept;
K < 1 calms it), and with `--anchor K` the anchor's reading scaled so instead (the band times
(reading / its clip mean) ** (K - 1) in power): whether the excess movement comes from the reading.
`--keep-power` then scales each clip's calmed band to its mean power before calming (its long-term level).
docs/quality.md's round-14 figures come from

    .venv/bin/python bench/band_course.py --course 0.8 0.6 --anchor 0.8
    .venv/bin/python bench/band_course.py --course 0.8 0.6 --keep-power

Needs the pipeline's generator and data (`make repro` first), or --checkpoint: an anchored one with a tilt.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import torch
from band_correlation import band_off  # bench/
from band_envelope import FLOOR, anchor_reading, spectrum  # bench/
from real_sets import one_line_errors, params_and_generator, print_per_bitrate, restored_pair, restored_sets, scored  # bench/

from apollo.evaluate import synthetic_pairs

ACTIVE_DB = 60.0


def frame_levels(generator, audio: np.ndarray, cut: int) -> np.ndarray:
    """(C, L) -> (C, T): log10 mean power over the cutoff per frame of the generator's STFT."""
    with torch.no_grad():
        return np.log10(spectrum(generator, audio)[:, cut:].abs().square().mean(1).numpy() + FLOOR)


def course_figures(made: np.ndarray, original: np.ndarray) -> tuple[float, float] | None:
    """(C, T) log levels -> (correlation, spread ratio made / original) over the original's active frames."""
    active = original > original.max() - ACTIVE_DB / 10
    a, b = made[active], original[active]
    if a.size < 10 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1]), float(a.std() / b.std())


def rescaled(generator, made: np.ndarray, cut: int, log_gain: np.ndarray) -> np.ndarray:
    """The made band times 10 ** (log_gain / 2) per frame ((C, T) log10 power gain), its phases kept."""
    m = spectrum(generator, made)
    m[:, cut:] *= torch.from_numpy(10 ** (0.5 * log_gain)).to(torch.float32)[:, None]
    return generator.istft(m, made.shape[-1]).numpy().astype(np.float64)


def calmed(level: np.ndarray, k: float, keep_power: bool = False) -> np.ndarray:
    """(C, T) log levels -> the log gain that scales their course around each channel's mean by k; with
    keep_power, plus a constant per channel that keeps the channel's mean power (the long-term level)."""
    gain = (k - 1) * (level - level.mean(1, keepdims=True))
    if keep_power:
        power = lambda x: np.log10(np.mean(10.0**x, axis=1, keepdims=True))  # noqa: E731
        gain = gain + power(level) - power(level + gain)
    return gain


def report_course(name: str, figures: list[tuple[float, float]]) -> None:
    corr, ratio = np.array(figures).T
    print(f"{name}: {len(figures)} clips, frame level of the made band against the original's: median correlation "
          f"{np.median(corr):.2f}, median spread ratio {np.median(ratio):.2f}")  # fmt: skip


def run() -> None:
    def arguments(ap):
        ap.add_argument("--course", type=float, nargs="*", default=[], help="scale the made band's course by K")
        ap.add_argument("--anchor", type=float, nargs="*", default=[], help="scale the anchor reading's course by K")
        ap.add_argument("--val-items", type=int, default=100, help="validation pairs to measure (default 100)")
        ap.add_argument("--keep-power", action="store_true", help="calm the course, keep each clip's mean power")

    params, generator, args = params_and_generator(__doc__, arguments)
    if any(k < 0 for k in args.course + args.anchor) or args.val_items < 1:
        raise SystemExit("error: --course and --anchor factors must be at least 0, --val-items at least 1")
    silent = band_off(generator)
    figures = []
    for pair in itertools.islice(synthetic_pairs(f"{params.shards.out}/val"), args.val_items):
        got = restored_pair(generator, silent, pair["degraded"])
        if got is not None:
            passband, restored, cut = got
            figures.append(course_figures(frame_levels(generator, restored - passband, cut),
                                          frame_levels(generator, pair["target"], cut)))  # fmt: skip
    report_course("validation shards", [f for f in figures if f is not None])
    systems = ["model"] + [f"course x{k:g}" for k in args.course] + [f"anchor x{k:g}" for k in args.anchor]
    for name, clips in restored_sets(params, generator, silent).items():
        rows, figures = defaultdict(list), []
        for pair, passband, restored, cut in clips:
            degraded, target = pair["degraded"], pair["target"]
            made = restored - passband
            level = frame_levels(generator, made, cut)
            figures.append(course_figures(level, frame_levels(generator, target, cut)))
            reading = anchor_reading(generator, degraded, cut)[1]
            estimates = {"model": restored}
            estimates |= {f"course x{k:g}": passband + rescaled(generator, made, cut, calmed(level, k, args.keep_power)) for k in args.course}
            estimates |= {f"anchor x{k:g}": passband + rescaled(generator, made, cut, calmed(reading, k, args.keep_power)) for k in args.anchor}
            if len(systems) > 1:
                rows[pair["bitrate"]].append(scored(target, degraded, estimates))
        report_course(name, [f for f in figures if f is not None])
        if len(systems) == 1:
            continue
        print_per_bitrate(rows, systems)


if __name__ == "__main__":
    one_line_errors(run)
