"""What the benches that score a generator on the evaluation's real sets share (imported from bench/)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator

import numpy as np
import torch

from apollo.checkpoint import load_generator
from apollo.config import project_params
from apollo.errors import ApolloError
from apollo.evaluate import mixture_pairs, real_audio_pairs, score, trained_recordings
from apollo.metrics import high_band_edge
from apollo.params import SR
from apollo.restore import array_frames, passband_bins, restore_array


def real_sets(params) -> dict[str, Iterator[dict]]:
    """The evaluation's two real sets, as it builds them: name -> its (target, degraded, bitrate) pairs."""
    ev = params.evaluate
    return {
        "held-out recordings": real_audio_pairs(ev.real_audio, ev.real_clips, ev.real_seconds, ev.real_bitrates,
                                                trained_recordings(ev.recordings)),  # fmt: skip
        "real mixtures": mixture_pairs(ev.real_mixtures, params.shards, params.sad.detection, ev.real_mixture_samples),
    }


def params_and_generator(doc: str, arguments: Callable[[argparse.ArgumentParser], None] | None = None):
    """The project's params and the generator of --checkpoint (default: the pipeline's), in eval mode; with
    `arguments` (which adds a bench's own options to the parser), the parsed arguments as a third item."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--checkpoint", help="generator (default: the pipeline's)")
    if arguments:
        arguments(ap)
    args = ap.parse_args()
    params = project_params()
    generator = load_generator(args.checkpoint or params.generator_path, "cpu").eval()
    return (params, generator, args) if arguments else (params, generator)


def restored_pair(generator, silent, degraded: np.ndarray):
    """A clip's MP3 (C, L) -> (its kept passband alone: `silent`'s restoration, the generator's restoration,
    each (C, L), the cutoff in the generator's STFT bins), as the evaluation restores; None where the MP3
    shows no cut."""
    cut = passband_bins(generator, array_frames(degraded.T), SR)
    if cut >= generator.config.n_fft // 2 + 1:
        return None
    with torch.inference_mode():
        return restore_array(silent, degraded.T).T, restore_array(generator, degraded.T).T, cut


def restored_sets(params, generator, silent) -> dict[str, Iterator[tuple[dict, np.ndarray, np.ndarray, int]]]:
    """The real sets' clips whose MP3 shows a cut: name -> (pair, passband, restoration, cut) as `restored_pair`."""
    def clips(pairs):
        for pair in pairs:
            got = restored_pair(generator, silent, pair["degraded"])
            if got is not None:
                yield (pair, *got)

    return {name: clips(pairs) for name, pairs in real_sets(params).items()}


def scored(target: np.ndarray, degraded: np.ndarray, estimates: dict[str, np.ndarray], without_visqol=()) -> dict:
    """One clip's row: each estimate's and the MP3's ("mp3", no ViSQOL) evaluation `score`, with the
    evaluation's high-band edge; the estimates named in `without_visqol` skip ViSQOL too."""
    edge = high_band_edge(degraded, SR)
    return {s: score(target, e, s not in without_visqol, edge) for s, e in estimates.items()} | {
        "mp3": score(target, degraded, False, edge)}


def print_per_bitrate(rows: dict[int, list[dict]], systems: list[str]) -> None:
    """Per bitrate, each system's mean LSD, SI-SNR against the MP3's and ViSQOL, and median hf_err; rows:
    bitrate -> per clip {system: the evaluation's `score`, "mp3": the MP3's}."""
    print("  kbps, clips, then per system: LSD, SI-SNR - MP3's (dB), ViSQOL, hf_err (median dB)")
    for bitrate, clips in sorted(rows.items()):
        mean = lambda s, k: float(np.mean([c[s][k] for c in clips]))  # noqa: E731
        print(f"  {bitrate:4}, {len(clips):2} | " + " | ".join(
            f"{s}: {mean(s, 'lsd'):.2f}, {mean(s, 'si_snr') - mean('mp3', 'si_snr'):+.2f}, {mean(s, 'visqol'):.2f}, "
            f"{np.median([c[s]['hf_err'] for c in clips]):.1f}" for s in systems))  # fmt: skip


def one_line_errors(run: Callable[[], None]) -> None:
    """run(), a missing generator or held-out songs said in one line, as the stages say it."""
    try:
        run()
    except (ApolloError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e} (make repro first)") from None
