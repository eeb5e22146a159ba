"""`apollo app`: restore files in a local web page (Gradio).

Drop files, pick the generator (the pipeline's, a local file, or a hub file), press Restore: each file is
checked, restored with the same code as `apollo restore` (:func:`apollo.restore.restore_file`), and shown
as A/B players and spectrograms with the codec's cutoff drawn; the restored files download as wav or
flac. A mistake is a one-line message in the page; the server's console keeps the details of a fault.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import threading
import traceback
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from apollo.errors import ApolloError, printable

CHOICES = ("pipeline model", "local file", "hub")
FORMATS = ("wav", "flac")
PLAYABLE = {".mp3", ".wav", ".flac", ".ogg", ".opus", ".m4a", ".aac"}  # what browsers play as they are


class AppError(ApolloError):
    """A mistake in what was asked of the page."""


@dataclass(frozen=True)
class Restored:
    name: str  # the uploaded file's name
    original: str  # playable form of the input
    output: str  # the restored file, as downloaded
    view: str  # spectrograms PNG
    cutoff_hz: float | None  # the input's codec cutoff, None when full band


class Generators:
    """The generator of the checkpoint last asked for, loaded once (sessions share it: restore is
    thread-safe in inference mode)."""

    def __init__(self, device: str):
        self.device = device
        self._lock = threading.Lock()
        self._key = self._model = None

    def get(self, path: Path):
        from apollo.checkpoint import load_generator

        key = (str(path.resolve()), path.stat().st_mtime_ns)
        with self._lock:
            if key != self._key:
                self._model, self._key = load_generator(path, self.device), key
            return self._model


def checkpoint_for(choice: str, text: str) -> Path:
    """The weights a page asks for: the pipeline's, a local file, or a hub file (hf:// may be left out)."""
    from apollo.locate import checkpoint_path, default_checkpoint

    text = (text or "").strip()
    if choice == CHOICES[0]:
        return default_checkpoint()
    if not text:
        raise AppError(f"give the checkpoint's {'path' if choice == CHOICES[1] else 'hub id (OWNER/REPO/FILE)'}")
    if choice == CHOICES[2] and not text.startswith("hf://"):
        text = "hf://" + text
    path = checkpoint_path(text)
    if not path.is_file():
        raise AppError(f"checkpoint not found: {path}")
    return path


def restore_upload(model, upload: Path, folder: Path, fmt: str, progress) -> Restored:
    """Check and restore one uploaded file into `folder`; `progress(fraction)` as it goes."""
    from apollo.audio.io import open_at_rate, probe
    from apollo.restore import restore_file

    info = probe(upload)
    folder.mkdir(parents=True)
    stem = Path(upload.name).stem
    out = folder / f"{stem}.restored.{fmt}"
    done = 0
    try:
        # decoded once, here, every block checked as it is (a wav/flac at 44.1 kHz is used in place and
        # checked as restore reads it): restore, the spectrogram and a preview all read this copy
        decoded, frames = open_at_rate(info, model.config.sr, folder)

        def advance(n: int) -> None:
            nonlocal done
            done += n
            progress(done / frames)

        try:
            restore_file(model, info if decoded == info.path else probe(decoded), out,
                         subtype="FLOAT" if fmt == "wav" else "PCM_24", progress=advance)  # fmt: skip
            view = folder / f"{stem}.png"
            cutoff = draw_spectrograms(decoded, out, view, title=upload.name)
            original = upload if upload.suffix.lower() in PLAYABLE else preview(decoded, folder / f"{stem}.input.flac")
        finally:
            if decoded != info.path:  # a decoded copy (1.3 GB an hour): not kept while the app runs
                decoded.unlink(missing_ok=True)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # a failed upload leaves nothing, a half-decoded copy included
        raise
    return Restored(upload.name, str(original), str(out), str(view), cutoff)


def preview(decoded: Path, flac: Path) -> Path:
    """A flac of the decoded input, for an upload browsers do not play (wma, aiff, ...)."""
    import numpy as np
    import soundfile as sf

    with sf.SoundFile(str(decoded)) as fin, sf.SoundFile(str(flac), "w", fin.samplerate, fin.channels, "PCM_24",
                                                         format="FLAC") as fout:  # fmt: skip
        for block in fin.blocks(1 << 16, dtype="float32", always_2d=True):
            fout.write(np.clip(block, -1.0, 1.0))
    return flac


def draw_spectrograms(original: Path, restored: Path, png: Path, title: str) -> float | None:
    """Input above restored, 0 to 22 kHz, the input's codec cutoff drawn on both; returns the cutoff."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from apollo.audio.spectrum import codec_cutoff, power, sampled_frames, to_db

    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True, constrained_layout=True)
    cutoff = None
    for i, (ax, path, label) in enumerate(zip(axes, (original, restored), ("input", "restored"))):
        frames, rate, seconds = sampled_frames(path)
        spectra = power(frames)
        if i == 0:  # the long-term spectrum: the mean power over the sampled frames
            cutoff = codec_cutoff(to_db(spectra.mean(axis=0)), rate)
        db = to_db(spectra).T
        ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 100, vmax=db.max(),
                  extent=(0, seconds, 0, rate / 2000))  # fmt: skip
        ax.set_ylabel("kHz")
        ax.set_title(f"{label}: {title}" if i == 0 else label, loc="left", fontsize=10)
        if cutoff is not None:
            ax.axhline(cutoff / 1000, color="cyan", linestyle="--", linewidth=1)
            ax.text(seconds * 0.99, cutoff / 1000, f"codec cutoff {cutoff / 1000:.1f} kHz", color="cyan",
                    ha="right", va="bottom", fontsize=9)  # fmt: skip
    axes[1].set_xlabel("time (s)")
    if cutoff is None:
        axes[0].set_title(f"input: {title} (no codec cutoff found: full band)", loc="left", fontsize=10)
    fig.savefig(png, dpi=80)
    plt.close(fig)
    return cutoff


def plain(text: str) -> str:
    """Text shown as itself in Markdown: a file named `*take_2*.mp3` is not set in italics."""
    return re.sub(r"([\\`*_{}\[\]()<>#+!|~-])", r"\\\1", printable(text))


def summary(item: Restored) -> str:
    cut = f"codec cutoff {item.cutoff_hz / 1000:.1f} kHz" if item.cutoff_hz else "no codec cutoff found (full band)"
    return f"**{plain(item.name)}**: {cut}"


def build(*, checkpoint: str | None, device: str, workdir: Path):
    """The page: gr.Blocks, not yet launched."""
    import gradio as gr

    generators = Generators(device)
    choice0 = CHOICES[0] if not checkpoint else CHOICES[2] if checkpoint.startswith("hf://") else CHOICES[1]

    def restore(files, choice, text, fmt, progress=gr.Progress()):
        # a mistake is one line in the status, and what the page showed before stays (gr.Error would
        # stamp "Error" over every output)
        try:
            results, weights = restore_all(files, choice, text, fmt, progress)
        except ApolloError as e:
            return *[gr.skip()] * 7, f"**error:** {plain(str(e))}"
        except Exception as e:  # a fault of ours: one line in the page, the details in the console
            traceback.print_exc()
            return *[gr.skip()] * 7, f"**error:** {plain(f'{type(e).__name__}: {e}'.splitlines()[0])}"
        state = [asdict(r) for r in results]
        names = [r.name for r in results]
        return (state, gr.update(choices=names, value=names[0], visible=len(names) > 1), *show(state, names[0]),
                [r.output for r in results], f"restored {len(results)} file{'s' * (len(results) > 1)} with `{weights}`")  # fmt: skip

    def restore_all(files, choice, text, fmt, progress) -> tuple[list[Restored], Path]:
        if not files:
            raise AppError("drop one or more audio files first")
        weights = checkpoint_for(choice, text)  # a hub file: its local copy in the hub cache
        model = generators.get(weights)
        request = workdir / uuid.uuid4().hex
        results = []
        for i, upload in enumerate(map(Path, files)):
            name = f"{upload.name} ({i + 1}/{len(files)})"
            step = lambda f, i=i, name=name: progress((i + f) / len(files), desc=f"restoring {name}")  # noqa: E731
            step(0.0)
            try:
                results.append(restore_upload(model, upload, request / str(i), fmt, step))
            except ApolloError as e:  # name the file as the user knows it, not by its upload folder
                raise AppError(str(e).replace(str(upload), upload.name)) from None
        return results, weights

    def show(state, name):
        item = next((Restored(**s) for s in state or [] if s["name"] == name), None)
        if item is None:
            return None, None, None, ""
        return item.original, item.output, item.view, summary(item)

    with gr.Blocks(title="Apollo: restore lossy-compressed music", analytics_enabled=False) as page:
        gr.Markdown("# Apollo\nRestore lossy-compressed music (MP3, AAC, ...) to 44.1 kHz full-band audio.")
        with gr.Row():
            with gr.Column():
                files = gr.File(label="Audio files", file_count="multiple", type="filepath", elem_id="inputs")
                choice = gr.Radio(list(CHOICES), value=choice0, label="Checkpoint", elem_id="checkpoint-choice")
                text = gr.Textbox(value=checkpoint or "", label="Checkpoint file or hub id",
                                  placeholder="/path/to/model.safetensors or OWNER/REPO/FILE[@REVISION]",
                                  elem_id="checkpoint")  # fmt: skip
                fmt = gr.Radio(list(FORMATS), value="wav", label="Download as", elem_id="format")
                go = gr.Button("Restore", variant="primary", elem_id="restore")
                status = gr.Markdown(elem_id="status")
            with gr.Column():
                pick = gr.Dropdown(label="Show", choices=[], visible=False, elem_id="pick")
                about = gr.Markdown(elem_id="about")
                with gr.Row():
                    before = gr.Audio(label="A: input", type="filepath", interactive=False, buttons=["download"],
                                      elem_id="input-audio")  # fmt: skip
                    after = gr.Audio(label="B: restored", type="filepath", interactive=False, buttons=["download"],
                                     elem_id="restored-audio")  # fmt: skip
                # the figure titles its panels; a label would cover the first title
                view = gr.Image(label="Spectrograms", show_label=False, type="filepath", interactive=False,
                                elem_id="spectrograms")  # fmt: skip
                downloads = gr.File(label="Restored files", file_count="multiple", interactive=False, elem_id="downloads")
        state = gr.State([])
        go.click(restore, [files, choice, text, fmt], [state, pick, before, after, view, about, downloads, status])
        pick.change(show, [state, pick], [before, after, view, about])
    return page


def serve(*, host: str, port: int, checkpoint: str | None, device: str, open_browser: bool = False) -> None:
    """Run the page until Ctrl-C (or SIGTERM); its files live in a temporary folder removed on the way out."""
    workdir = Path(tempfile.mkdtemp(prefix="apollo-app-"))
    os.environ.setdefault("GRADIO_TEMP_DIR", str(workdir / "gradio"))  # uploads and served copies: ours to remove
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # nothing leaves this machine
    try:
        page = build(checkpoint=checkpoint, device=device, workdir=workdir)
        try:
            page.queue(default_concurrency_limit=1).launch(
                server_name=host, server_port=port, inbrowser=open_browser, share=False, ssr_mode=False,
                quiet=True, show_error=True, allowed_paths=[str(workdir)], prevent_thread_lock=True,
            )  # fmt: skip
        except OSError as e:  # the port is taken, or the host cannot be bound
            cause = "the port is in use" if "empty port" in str(e) else printable(str(e)).splitlines()[0]
            raise AppError(f"cannot serve on {host}:{port}: {cause}") from None
        print(f"apollo app: http://{host}:{port} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        page.block_thread()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
