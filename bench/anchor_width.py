"""How wide a stretch under the codec cutoff should the made band's level be read from?

The anchored generator multiplies its made band, frame by frame, by the RMS level of a stretch just under
the cutoff of the MP3 it restores, `model.cutoff_reference_hz` + `cutoff_reference_fraction` x the cutoff
wide (holes filled first). Each reading here is a fixed width (--widths, Hz) or a share of each clip's
cutoff (--fractions), and a statistic of the bins' power in each frame (--statistics: their mean, as the
model reads it, their geometric mean or their median; round 13). No training is needed to judge a
reading: for each clip of a set, in the model's own STFT, it is compared with what it stands for, the
original's power from the cutoff to 20 kHz:

* per frame: the RMS difference in dB between the two levels' courses over time, each clip's mean
  difference taken out (the edge frames left out): how well the reading follows the band's envelope,
  the hits and decays that no constant gain can give it;
* long-term: the band's mean power minus the reading's, per clip; its median absolute spread around
  each bitrate's median (a constant per cutoff is what the model's tilt and heads learn easily; the
  spread around it is what they must find elsewhere);
* and the error left by the simplest model of that kind: the reading plus each bitrate's median offset
  on the training shards, median absolute over the set's clips (what `hf_err` would read for a band made
  that way, in the model's STFT).

Sets: the training shards (what the model learns from), the evaluation's held-out recordings and its real
mixtures. docs/quality.md's round-10 figures come from

    .venv/bin/python bench/anchor_width.py

and round 13's from `--widths --fractions 0.3 --statistics mean geometric median`.

Needs the pipeline's data (`make repro` first): the shards and the synth stage's held-out songs.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import torch
from real_sets import real_sets  # bench/

from apollo import paths
from apollo.audio.spectrum import to_db
from apollo.config import project_params
from apollo.errors import ApolloError
from apollo.evaluate import synthetic_pairs
from apollo.models.apollo import Apollo, fill_holes, reference_bins

TOP_HZ = 20000.0
EDGE_FRAMES = 2  # the centred STFT's padded frames
LABEL = 24  # the report's first column


# each frame's reading from the (bins, frames) power under the cutoff
STATISTICS = {
    "mean": lambda power: power.mean(0),  # what the model reads (`passband_top_level`)
    "geometric": lambda power: np.exp(np.log(power + 1e-20).mean(0)),  # led by the floor between partials
    "median": lambda power: np.median(power, 0),
}


def readings(widths: list[float], fractions: list[float], statistics: list[str]) -> dict[str, tuple[float, float, str]]:
    """label -> (cutoff_reference_hz, cutoff_reference_fraction, statistic) of each reading compared."""
    spans = {f"{w:.0f} Hz": (w, 0.0) for w in widths} | {f"{f:g} x cutoff": (0.0, f) for f in fractions}
    return {(label if len(statistics) == 1 else f"{label}, {stat}"): (*span, stat)
            for label, span in spans.items() for stat in statistics}  # fmt: skip


def clip_readings(model: Apollo, pair: dict, widths: dict[str, tuple[float, float, str]]) -> dict | None:
    """Per reading: (per-frame envelope error dB, long-term band - reading dB); None where the MP3 shows no cut."""
    target, degraded = (torch.from_numpy(np.atleast_2d(pair[k])).float() for k in ("target", "degraded"))
    spec_t, spec_d = model.stft(target), model.stft(degraded)  # (C, F, T)
    cut = model.cutoff_bins(spec_d[None])  # (1,)
    c, top = int(cut[0]), int(TOP_HZ / model.config.bin_hz)
    if c >= top:
        return None
    cfg = model.config
    spec_d = fill_holes(spec_d, cut.expand(spec_d.shape[0]), model.hole_phases, cfg.hole_gate_db, cfg.hole_level_db)
    power_d = spec_d.abs().square().mean(0).numpy()  # (F, T), channels' power averaged
    band = spec_t[:, c:top].abs().square().mean((0, 1)).numpy()  # (T,)
    inner = slice(EDGE_FRAMES, -EDGE_FRAMES)
    out = {"bitrate": pair["bitrate"]}
    for width, (hz, fraction, statistic) in widths.items():
        bins = int(reference_bins(replace(cfg, cutoff_reference_hz=hz, cutoff_reference_fraction=fraction), cut)[0])
        # `passband_top_level`'s power without its float-epsilon floor, which would flatten the quietest frames
        reading = STATISTICS[statistic](power_d[max(0, c - bins) : c])  # (T,)
        diff = (to_db(reading) - to_db(band))[inner]
        out[width] = (float(np.sqrt(np.mean(np.square(diff - diff.mean())))), float(to_db(band.mean()) - to_db(reading.mean())))
    return out


def offsets(rows: list[dict], width: str) -> dict[int, float]:
    """Each bitrate's median long-term offset (band - reading, dB)."""
    return {b: float(np.median([r[width][1] for r in rows if r["bitrate"] == b])) for b in {r["bitrate"] for r in rows}}


def report(name: str, rows: list[dict], widths: dict, trained: dict[str, dict[int, float]]) -> None:
    bitrate = np.array([r["bitrate"] for r in rows])
    print(f"\n{name}: {len(rows)} clips with a cut; dB, medians over clips")
    print(f"  {'reading':{LABEL}}   envelope error   long-term spread   error with the training offsets")
    for width in widths:
        envelope = np.median([r[width][0] for r in rows])
        offset = np.array([r[width][1] for r in rows])
        spread = np.concatenate([offset[bitrate == b] - np.median(offset[bitrate == b]) for b in np.unique(bitrate)])
        known = [r[width][1] - trained[width][r["bitrate"]] for r in rows if r["bitrate"] in trained[width]]
        print(f"  {width:{LABEL}}   {envelope:14.2f}   {np.median(np.abs(spread)):16.2f}   {np.median(np.abs(known)):31.2f}")


def main() -> None:
    try:
        run()
    except ApolloError as e:  # no shards or held-out songs yet: one line, as the stages say it
        raise SystemExit(f"error: {e} (make repro first)") from None


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--widths", nargs="*", type=float, default=[1000, 2000, 3000, 4000, 6000], help="Hz")
    ap.add_argument("--fractions", nargs="*", type=float, default=[0.3], help="shares of each clip's cutoff")
    ap.add_argument("--statistics", nargs="+", choices=list(STATISTICS), default=["mean"],
                    help="each frame's reading: the bins' mean power (the model's), geometric mean or median")  # fmt: skip
    ap.add_argument("--train-samples", type=int, default=300, help="training pairs read (default 300)")
    args = ap.parse_args()
    params = project_params()
    widths = readings(args.widths, args.fractions, args.statistics)
    if not widths:
        ap.error("give at least one of --widths and --fractions")
    model = Apollo(params.model).eval()  # untrained: only its STFT, cutoff reading and hole fill are used
    sets: dict[str, Iterable[dict]] = {
        "training shards": synthetic_pairs(paths.join(params.shards.out, "train"), args.train_samples),
        **real_sets(params),
    }
    trained = None
    with torch.no_grad():
        for name, pairs in sets.items():  # the training shards first: their offsets are the ones applied
            rows = [r for r in (clip_readings(model, pair, widths) for pair in pairs) if r is not None]
            trained = trained or {width: offsets(rows, width) for width in widths}
            report(name, rows, widths, trained)


if __name__ == "__main__":
    main()
