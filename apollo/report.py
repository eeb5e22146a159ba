"""What the evaluation writes: metrics.json, per-bitrate TSV plots, figures, spectrograms, a Markdown report."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np

from apollo import paths
from apollo.evaluate import METRICS, VISQOL_SR
from apollo.files import write_json, write_text
from apollo.metrics import power_spectrogram
from apollo.params import SR, EvalParams

LABELS = {"sdr": "SDR (dB)", "si_snr": "SI-SNR (dB)", "visqol": "ViSQOL MOS-LQO", "lsd": "LSD (lower is better)",
          "hf_err": "high-band level error (dB, median; lower is better)"}  # fmt: skip
LSD_DEFINITION = "2048-point Hann, hop 512, power floor 1e-10, log10 units"
SET_NAMES = {"synthetic": "Synthetic test split", "real_audio": "Real recordings",
             "real_mixtures": "Mixtures of held-out real recordings"}  # titles say where they come from
TSV = {"synthetic": paths.PER_BITRATE_TSV, "real_audio": paths.REAL_PER_BITRATE_TSV,
       "real_mixtures": paths.MIX_PER_BITRATE_TSV}  # dvc.yaml's plots read these


def write_report(params: EvalParams, result: dict, examples: list[dict], checkpoint: str) -> None:
    """Everything under `params.out`; `examples` are the synthetic pairs (restored) to draw."""
    out = Path(params.out)
    (out / paths.EXAMPLES).mkdir(parents=True, exist_ok=True)
    write_json(out / paths.METRICS, result)
    for name, tsv in TSV.items():  # a set not scored (evaluate.real_audio: "") still writes its declared output
        block = result["sets"].get(name)
        write_text(out / tsv, per_bitrate_tsv(block["per_bitrate"]) if block else "bitrate\n")
    plot_per_bitrate(out / paths.PER_BITRATE_PLOT, result["sets"])
    for pair in examples:
        plot_spectrograms(out / paths.EXAMPLES / f"{pair['key']}.png", pair)
    titles = {"synthetic": SET_NAMES["synthetic"], "real_audio": f"{SET_NAMES['real_audio']} ({params.real_audio})",
              "real_mixtures": f"{SET_NAMES['real_mixtures']} ({params.real_mixtures})"}  # fmt: skip
    write_text(out / paths.REPORT, markdown(result["sets"], titles, examples, checkpoint))


def overall_lines(result: dict) -> list[str]:
    """Each set's overall scores, restored then unprocessed: what the stage and `apollo evaluate` print."""
    return [f"{name} {system:>8}: " + ", ".join(f"{m} {v:.3f}" for m, v in block["overall"][system].items())
            for name, block in result["sets"].items() for system in ("restored", "mp3")]  # fmt: skip


def per_bitrate_tsv(per_bitrate: dict) -> str:
    """One row per bitrate: <metric>_restored and <metric>_mp3 columns, for `dvc plots`."""
    metrics = [m for m in METRICS if m in next(iter(per_bitrate.values()))["restored"]]
    head = ["bitrate"] + [f"{m}_{s}" for m in metrics for s in ("restored", "mp3")]
    rows = ["\t".join(head)]
    for bitrate, entry in per_bitrate.items():
        rows.append("\t".join([bitrate] + [f"{entry[s][m]:.4f}" for m in metrics for s in ("restored", "mp3")]))
    return "\n".join(rows) + "\n"


def plot_per_bitrate(path: Path, sets: dict) -> None:
    """The paper's Fig. 2: every metric against bitrate, restored vs MP3, one row per set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in METRICS if m in sets["synthetic"]["overall"]["restored"]]
    fig, axes = plt.subplots(len(sets), len(metrics), figsize=(3.2 * len(metrics), 2.8 * len(sets)), squeeze=False)
    for row, (name, block) in zip(axes, sets.items()):
        rates = [int(b) for b in block["per_bitrate"]]
        for ax, metric in zip(row, metrics):
            for system, style in (("restored", "o-"), ("mp3", "s--")):
                values = [block["per_bitrate"][str(b)][system][metric] for b in rates]
                ax.plot(rates, values, style, label="Apollo" if system == "restored" else "MP3")
            ax.set_title(f"{SET_NAMES[name]}: {LABELS[metric]}", fontsize=8)
            ax.set_xlabel("bitrate (kbps)", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_spectrograms(path: Path, pair: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
    for ax, (title, audio) in zip(axes, (("target", pair["target"]), (f"MP3 {pair['bitrate']} kbps", pair["degraded"]),
                                         ("restored", pair["restored"]))):  # fmt: skip
        power = power_spectrogram(np.asarray(audio).mean(0, keepdims=True))[0]  # (frames, bins)
        db = 10 * np.log10(np.maximum(power, 1e-10))
        seconds = len(power) * 512 / SR
        ax.imshow(db.T, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 100, vmax=db.max(),
                  extent=(0, seconds, 0, SR / 2000))  # fmt: skip
        if pair.get("edge_hz"):  # where the codec cut: the band the model has to make
            ax.axhline(pair["edge_hz"] / 1000, color="white", lw=0.6, ls="--")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("s", fontsize=8)
    axes[0].set_ylabel("kHz (dashed: codec cutoff)", fontsize=8)
    fig.suptitle(f"{pair['key']} ({pair['category']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _table(groups: dict, metrics: list[str], first: str) -> list[str]:
    head = f"| {first} | n | " + " | ".join(f"{LABELS[m]} Apollo / MP3" for m in metrics) + " |"
    lines = [head, "|" + "---|" * (len(metrics) + 2)]
    for name, entry in groups.items():
        cells = [f"{entry['restored'][m]:.3f} / {entry['mp3'][m]:.3f}" for m in metrics]
        lines.append(f"| {name} | {entry['n']} | " + " | ".join(cells) + " |")
    return lines


def methods(with_visqol: bool) -> str:
    """How the numbers were measured: text for report.md (metrics.json holds numbers only, for DVC)."""
    visqol = "off"
    if with_visqol:
        import visqol as visqol_package

        visqol = f"visqol-python {visqol_package.__version__}, audio mode, mono, {VISQOL_SR} Hz"
    return (f"LSD: {LSD_DEFINITION}. ViSQOL: {visqol}. MP3 at 44.1 kHz has no 24 kbps rate: LAME encodes "
            "a 24 kbps request at 32 (`bitrate_actual` in metrics.json).")  # fmt: skip


def markdown(sets: dict, titles: dict, examples: list[dict], checkpoint: str) -> str:
    metrics = [m for m in METRICS if m in sets["synthetic"]["overall"]["restored"]]
    samples = ", ".join(f"{block['samples']} {name.replace('_', ' ')}" for name, block in sets.items())
    lines = ["# Apollo evaluation", "", f"Checkpoint: `{checkpoint}`. Samples: {samples}.", "",
             methods("visqol" in metrics), "", "Every cell is *restored / unprocessed MP3*.", ""]  # fmt: skip
    for name, block in sets.items():
        lines += [f"## {titles[name]}", "", "### Overall", ""]
        lines += _table({"all": block["overall"]}, metrics, "set") + ["", "### Per bitrate (kbps, requested)", ""]
        lines += _table(block["per_bitrate"], metrics, "kbps") + [""]
        if "per_category" in block:
            lines += ["### Per category", ""] + _table(block["per_category"], metrics, "category") + [""]
    lines += ["## Figures", "", f"![metrics against bitrate]({paths.PER_BITRATE_PLOT})", ""]
    for pair in examples:
        lines += [f"![{pair['key']}]({paths.EXAMPLES}/{pair['key']}.png)", ""]
    return "\n".join(lines)


IMAGE_LINK = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def artifact_markdown(out: str | Path, max_image_bytes: int = 1_000_000) -> str:
    """report.md as a Prefect markdown artifact: the artifact is stored text with no folder beside it, so
    each image the report links relatively becomes a data URI (base64). An image that is missing, outside
    `out`, not PNG/JPEG or larger than max_image_bytes is left out, its alt text and path in its place."""
    out = Path(out).resolve()

    def inline(link: re.Match) -> str:
        alt, target = link.groups()
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", target):  # http:, data: ...: not ours to resolve
            return link.group(0)
        path = (out / target).resolve()
        kind = IMAGE_TYPES.get(path.suffix.lower())
        if kind is None or not path.is_relative_to(out) or not path.is_file() or path.stat().st_size > max_image_bytes:
            return f"*[image not embedded: {alt or target} ({target})]*"
        return f"![{alt}](data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')})"

    return IMAGE_LINK.sub(inline, (out / "report.md").read_text(encoding="utf8"))
