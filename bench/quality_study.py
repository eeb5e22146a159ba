"""Quality against training time for training recipes: what makes the small model's high band follow the music.

Each recipe is params.yaml's `model` and `train` sections with overrides. It trains with `apollo.train.fit` (the
train stage's own function) in its own folder, and at every step count of --points resumes to it and scores the
generator with the evaluation's own code on held-out real recordings (``evaluate.real_audio`` minus what the
corpus trains on) at a few bitrates: LSD, SI-SNR, ViSQOL and the high-band level error, restored and MP3.

    .venv/bin/python bench/quality_study.py --shards data/shards --out /tmp/study \\
        --recipe default --recipe eps4 train.loss.epsilon=4 \\
        --recipe unanchored model.cutoff_reference_fraction=0 --points 100 200 300

Writes <out>/study.json (every point of every recipe), prints one line per point, and with --plot FILE draws
LSD, ViSQOL, SI-SNR and the high-band level error against training minutes, one line per recipe, the MP3 dashed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from apollo.config import load_params
from apollo.evaluate import real_audio_pairs, report_set, run_set, trained_recordings
from apollo.train import fit


def override(params, assignments: list[str]):
    """`section.key=value` (section model or train; train.loss.<w>) applied to the parsed params."""
    model, train = params.model, params.train
    for item in assignments:
        key, value = item.split("=", 1)
        value = json.loads(value) if value not in ("true", "false") else value == "true"
        parts = key.split(".")
        if parts[0] == "model":
            model = dataclasses.replace(model, **{parts[1]: value})
        elif parts[:2] == ["train", "loss"]:
            train = dataclasses.replace(train, loss=dataclasses.replace(train.loss, **{parts[2]: float(value)}))
        elif parts[0] == "train":
            train = dataclasses.replace(train, **{parts[1]: value})
        else:
            raise SystemExit(f"error: cannot override {key}")
    return model, train


def score(generator_path: str, params, clips: int, bitrates) -> dict:
    from apollo.checkpoint import load_generator

    generator = load_generator(generator_path, "cpu").eval()
    ev = dataclasses.replace(params.evaluate, real_clips=clips, real_bitrates=tuple(bitrates))
    pairs = real_audio_pairs(ev.real_audio, ev.real_clips, ev.real_seconds, ev.real_bitrates,
                             trained_recordings(ev.recordings))  # fmt: skip
    with torch.inference_mode():
        rows, _ = run_set(generator, pairs, ev, 0, "study")
    return report_set(rows, categories=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--recipe", nargs="+", action="append", required=True, metavar="NAME [KEY=VALUE ...]")
    ap.add_argument("--points", nargs="+", type=int, default=[100, 200, 300])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--bitrates", nargs="+", type=int, default=[32, 64, 128])
    ap.add_argument("--plot", help="PNG of quality against training minutes")
    ap.add_argument("--highlight", nargs="+", default=[], metavar="RECIPE",
                    help="recipes drawn bold in the plot; the others faded (default: all alike)")
    args = ap.parse_args()
    params = load_params()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = json.loads((out / "study.json").read_text()) if (out / "study.json").exists() else {}
    for name, *assignments in args.recipe:
        model, train = override(params, assignments)
        train = dataclasses.replace(train, out=str(out / name), patience=10**6)
        for steps in args.points:
            key = f"{name}@{steps}"
            if key in results:
                continue
            started = time.perf_counter()
            summary, _ = fit(dataclasses.replace(train, steps=steps), model, args.shards)
            block = score(str(out / name / "generator.safetensors"), params, args.clips, args.bitrates)
            results[key] = {"recipe": name, "overrides": assignments, "steps": steps,
                            "train_minutes": round(summary.get("train_seconds", 0) / 60, 2),
                            "wall_minutes": round((time.perf_counter() - started) / 60, 2), "real_audio": block}  # fmt: skip
            (out / "study.json").write_text(json.dumps(results, indent=1))
            o = block["overall"]
            print(f"{key}: " + ", ".join(f"{m} {o['restored'][m]:.3f}/{o['mp3'][m]:.3f}" for m in o["restored"]), flush=True)
    if args.plot:
        plot(results, args.plot, set(args.highlight))


def plot(results: dict, path: str, highlight: frozenset[str] | set[str] = frozenset()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [("lsd", "LSD (lower is better)"), ("visqol", "ViSQOL MOS-LQO"), ("si_snr", "SI-SNR (dB)"),
               ("hf_err", "high-band level error (dB, median)")]  # fmt: skip
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.2))
    recipes = sorted({r["recipe"] for r in results.values()})
    # tens of recipes: a colour and marker of their own each (tab20 alone repeats after 20); the highlighted
    # ones in strong colours of their own, so they stand apart from the faded rest
    colours, markers = plt.get_cmap("tab20").colors, "osD^v"
    strong = dict(zip(sorted(highlight), ["black", "tab:red", "tab:blue", "tab:green", "tab:purple"] * 9))
    for ax, (metric, label) in zip(axes, metrics):
        mp3 = []
        for i, recipe in enumerate(recipes):
            points = sorted((r["train_minutes"], r["real_audio"]["overall"]) for r in results.values() if r["recipe"] == recipe)
            if points and metric in points[0][1]["restored"]:
                bold = recipe in highlight
                ax.plot([m for m, _ in points], [o["restored"][metric] for _, o in points], label=recipe,
                        color=strong.get(recipe, colours[i % 20]), marker=markers[i // 20 % len(markers)], ms=5 if bold else 3,
                        lw=2.2 if bold else 0.8, alpha=1.0 if bold or not highlight else 0.45, zorder=3 if bold else 2)
                mp3 += [o["mp3"][metric] for _, o in points]
        if mp3:
            ax.axhline(float(sum(mp3) / len(mp3)), color="grey", ls="--", lw=1, label="MP3")
        ax.set_xlabel("training minutes (2 CPU cores)", fontsize=8)
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
    # below the plots, in columns: one legend for all, which stays readable as recipes accumulate
    handles, labels = axes[0].get_legend_handles_labels()
    rows = -(-len(labels) // 3)
    fig.set_size_inches(4 * len(metrics), 3.2 + 0.17 * rows)
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.suptitle("Held-out real recordings: quality against training time", fontsize=9)
    fig.tight_layout(rect=(0, 0.17 * rows / (3.2 + 0.17 * rows), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
