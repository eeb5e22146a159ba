"""The ``apollo`` command line."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from apollo.errors import ApolloError, run_command

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain click help: reads at 80 columns, nothing cut (rich's boxes squeeze it)
    pretty_exceptions_enable=False,
    help="Apollo: restore lossy-compressed (MP3, AAC, ...) music with a band-sequence GAN generator.",
)


class UserError(ApolloError):
    """A mistake in the command's input: reported as one line, exit status 1."""


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class Format(str, Enum):
    wav = "wav"
    flac = "flac"


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".wma", ".opus", ".aif", ".aiff")
BITS = {"float": "FLOAT", "24": "PCM_24", "16": "PCM_16"}  # --bits -> soundfile subtype


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        print(f"apollo {version('apollo-restore')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Apollo: restore lossy-compressed (MP3, AAC, ...) music with a band-sequence GAN generator."""


def expand_inputs(inputs: list[Path], recursive: bool) -> list[Path]:
    """Files as given; a folder stands for its audio files (sorted; with `recursive`, its subfolders' too),
    leaving out earlier outputs (*.restored.*)."""
    files = []
    for item in inputs:
        if not item.is_dir():
            files.append(item)
            continue
        found = sorted(p for p in (item.rglob("*") if recursive else item.iterdir())
                       if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and ".restored." not in p.name)  # fmt: skip
        if not found:
            raise UserError(f"{item}: no audio files in this folder{'' if recursive else ' (--recursive for subfolders)'}")
        files += found
    return files


def pick_device(name: str) -> str:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device available (this torch build or machine has none)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps: Apple MPS is not available here")
    return name


def output_paths(inputs: list[Path], out: Optional[Path], fmt: str) -> list[Path]:
    """Where each input's restoration goes: beside it, into a folder, or to one named file."""
    from apollo.restore import OUTPUT_FORMATS

    suffix = f".{fmt}"
    if out is not None and output_is_folder(inputs, out):
        if out.exists() and not out.is_dir() or not out.exists() and out.suffix.lower() in OUTPUT_FORMATS:
            raise UserError(f"-o {out}: {len(inputs)} inputs need an output folder, and this names a file")
        return [out / f"{p.stem}.restored{suffix}" for p in inputs]
    if out is not None:
        if out.suffix.lower() not in OUTPUT_FORMATS:
            raise UserError(f"-o {out}: output file must end in {' or '.join(OUTPUT_FORMATS)}")
        return [out]
    return [p.with_name(f"{p.stem}.restored{suffix}") for p in inputs]


def check_paths(inputs: list[Path], outputs: list[Path], overwrite: bool) -> None:
    resolved = {p.resolve() for p in inputs}
    seen = set()
    for src, dst in zip(inputs, outputs):
        if dst.resolve() in resolved:
            raise UserError(f"output {dst} is one of the inputs; refusing to overwrite an input")
        if dst.resolve() in seen:
            raise UserError(f"two inputs would both be written to {dst}")
        seen.add(dst.resolve())
        if dst.exists() and not overwrite:
            raise UserError(f"output {dst} exists; pass --overwrite to replace it")


@app.command()
def restore(
    inputs: list[Path] = typer.Argument(
        ..., help="Audio files (wav, flac, ogg, mp3; m4a/aac/wma etc. need ffmpeg) or folders of them."
    ),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Also take audio files in subfolders of folders given."),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output", help="Output file (one input) or folder (created if missing). Default: <input>.restored.<format> beside it."
    ),
    checkpoint: Optional[str] = typer.Option(
        None, "--checkpoint", "-c", help="Generator weights: ours (.safetensors), a published Apollo checkpoint, a "
        "community Lightning .ckpt, or a hub file hf://OWNER/REPO/FILE[@REVISION]. "
        "Default: the generator `make repro` trained (data/train/generator.safetensors).",
    ),
    device: Device = typer.Option(Device.auto, help="Where to run the model."),
    chunk_seconds: float = typer.Option(
        10.0, min=1.0, help="Audio per model call; memory grows with it, output does not depend on it."
    ),
    format: Format = typer.Option(
        Format.wav, "--format", help="Output format (44.1 kHz) for default or folder outputs; -o FILE uses its suffix."
    ),
    bits: str = typer.Option(
        "float", help="Sample format: 'float' (32-bit float, wav only), '24' or '16' (PCM). flac: 24 unless 16."
    ),
    overwrite: bool = typer.Option(False, help="Replace existing output files."),
    keep_passband: bool = typer.Option(
        True, "--keep-passband/--no-keep-passband",
        help="Below the input's codec cutoff, keep the input's own spectrum: the model makes only the band the codec removed "
             "(a cutoff-anchored model, the default pipeline's, always does).",
    ),
) -> None:
    """Restore lossy-compressed music files to 44.1 kHz full-band audio.

    Long files are processed in chunks with enough overlap that the result
    equals processing the whole file at once; memory does not grow with length.
    Each output is written under a temporary name and renamed when complete.
    """
    from apollo.audio.io import probe, verify
    from apollo.checkpoint import load_generator
    from apollo.locate import checkpoint_path, default_checkpoint

    if bits not in BITS:
        raise UserError(f"--bits {bits}: choose 'float', '24' or '16'")
    inputs = expand_inputs(inputs, recursive)
    outputs = output_paths(inputs, output, format.value)
    infos = [probe(p) for p in inputs]  # headers first: a bad name or format fails at once
    check_paths(inputs, outputs, overwrite)
    made = {output} if output is not None and output_is_folder(inputs, output) else set()
    for dst in outputs:
        if dst.parent not in made and not dst.parent.is_dir():
            raise UserError(f"output folder does not exist: {dst.parent}")
    dev = pick_device(device.value)
    path = checkpoint_path(checkpoint) if checkpoint else default_checkpoint()
    model = load_generator(path, dev)  # a damaged checkpoint is refused there
    with _bar() as bar:  # then every input decoded once: a truncated file fails before any output is written
        task = bar.add_task("checking inputs", total=len(infos))
        for info in infos:
            verify(info)
            bar.advance(task)
    for folder in made:  # -o DIR: made once every check has passed, so a mistake leaves nothing behind
        folder.mkdir(parents=True, exist_ok=True)
    _restore_all(model, infos, outputs, chunk_seconds, bits, keep_passband)


def _bar():
    """A progress bar on stderr for people: off when stderr is not a terminal, cleared on exit so an error
    stays one line."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               MofNCompleteColumn(), TimeRemainingColumn())  # fmt: skip
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


def _restore_all(model, infos, outputs, chunk_seconds: float, bits: str, keep_passband: bool) -> None:
    import soundfile as sf

    from apollo.restore import restore_file

    with _bar() as bar:
        files = bar.add_task("files", total=len(infos), visible=len(infos) > 1)
        for info, dst in zip(infos, outputs):
            task = bar.add_task(info.path.name, total=None)  # pulses while the input is decoded
            # the output's suffix decides its format; flac holds no float samples
            subtype = "PCM_24" if bits == "float" and dst.suffix.lower() == ".flac" else BITS[bits]
            try:
                restore_file(
                    model,
                    info,  # probed already: not decoded or probed twice
                    dst,
                    chunk_seconds=chunk_seconds,
                    subtype=subtype,
                    keep_passband=keep_passband,
                    progress=lambda n, t=task: bar.advance(t, n),  # several times per model call
                    on_start=lambda frames, t=task: bar.update(t, total=frames),
                )
            except (OSError, sf.LibsndfileError) as e:  # reading is checked (AudioError): this is the output side
                raise UserError(f"cannot write {dst}: {write_problem(dst, e)}") from None
            bar.remove_task(task)
            bar.advance(files)
            bar.console.print(f"wrote {dst}", soft_wrap=True, highlight=False)  # never wrapped: paths stay copyable


def output_is_folder(inputs: list[Path], out: Path) -> bool:
    return out.is_dir() or len(inputs) > 1 or not out.suffix


def write_problem(dst: Path, error: Exception) -> str:
    """Why writing failed, in words: libsndfile only says "System error"."""
    import errno
    import os
    import shutil

    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device"
    if not os.access(dst.parent, os.W_OK):
        return "the folder is not writable (read-only or no permission)"
    try:
        if shutil.disk_usage(dst.parent).free < 1 << 20:
            return "no space left on the device"
    except OSError:
        pass
    return (error.strerror if isinstance(error, OSError) and error.strerror else str(error)).splitlines()[0]


@app.command()
def evaluate(
    checkpoint: Optional[str] = typer.Option(
        None, "--checkpoint", "-c", help="Generator to score: a file, or a hub file hf://OWNER/REPO/FILE[@REVISION]. Default: the params' trained generator."
    ),
    params_file: Path = typer.Option(
        Path("params.yaml"), "--params", help="The project's params: scored as `dvc repro evaluate` scores; the options below override single settings."
    ),
    shards: Optional[Path] = typer.Option(None, help="Folder of test shards (shard-*.tar) to score on. Default: the params' test split."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Report folder. Default: eval-<checkpoint name>."),
    max_samples: Optional[int] = typer.Option(None, min=0, help="Score only the first N test samples (0: all)."),
    visqol: Optional[bool] = typer.Option(None, "--visqol/--no-visqol", help="Compute ViSQOL (about 0.4 s per clip and system)."),
    real_audio: Optional[str] = typer.Option(None, help="Folder of recorded .flac/.wav to encode at each bitrate and score; '' skips."),
    real_mixtures: Optional[str] = typer.Option(
        None, help="Folder of held-out songs (<song>/<stem>.flac) to mix as the shards stage does and score; '' skips. Default: the params' (the synth stage's held-out songs)."
    ),
    device: Device = typer.Option(Device.auto, help="Where to run the model."),
) -> None:
    """Score a generator against the unprocessed MP3: SDR, SI-SNR, ViSQOL and LSD, overall, per bitrate and
    per category, on the test shards and on real recorded audio. Writes metrics.json, plots and report.md."""
    import dataclasses

    from apollo import paths
    from apollo.config import load_params
    from apollo.evaluate import Mixing, evaluate_checkpoint
    from apollo.files import is_url
    from apollo.locate import checkpoint_path
    from apollo.report import overall_lines

    project = load_params(params_file)

    def in_project(path: str) -> str:  # the params' paths are relative to the project, where DVC runs the stage
        return path if not path or is_url(path) else str(params_file.parent / path)

    if checkpoint is None:
        checkpoint = Path(in_project(project.generator_path))
        print(f"checkpoint: {checkpoint}", file=sys.stderr)
    else:
        checkpoint = checkpoint_path(checkpoint)
    if not checkpoint.is_file():
        raise UserError(f"checkpoint not found: {checkpoint} (run `make repro` first, or pass --checkpoint FILE)")
    out = out or Path(f"eval-{checkpoint.stem}")  # not the params' folder: that one is DVC's output
    given = {"max_samples": max_samples, "visqol": visqol, "real_audio": real_audio, "real_mixtures": real_mixtures}
    changes = {"out": str(out), "real_audio": in_project(project.evaluate.real_audio),
               "recordings": in_project(project.evaluate.recordings),
               "real_mixtures": in_project(project.evaluate.real_mixtures)}  # fmt: skip
    changes.update((k, v) for k, v in given.items() if v is not None)  # an option given overrides its setting
    params = dataclasses.replace(project.evaluate, **changes)
    shards = shards or in_project(paths.test_split(project.shards.out))
    mixing = Mixing(project.shards, project.sad.detection)
    result = evaluate_checkpoint(checkpoint, shards, params, pick_device(device.value), mixing)
    print("\n".join(overall_lines(result)))
    print(f"report: {out / paths.REPORT}")


@app.command(name="app")
def web_app(
    host: str = typer.Option("127.0.0.1", help="Address to serve on; 127.0.0.1 keeps the page on this machine."),
    port: int = typer.Option(7860, min=1, max=65535, help="Port to serve on."),
    checkpoint: Optional[str] = typer.Option(
        None, "--checkpoint", "-c", help="Generator preselected in the page: a file or hf://OWNER/REPO/FILE[@REVISION]. "
        "Default: the pipeline's model (data/train/generator.safetensors).",
    ),
    device: Device = typer.Option(Device.auto, help="Where to run the model."),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
) -> None:
    """Restore files in a local web page: drop files, pick the checkpoint, compare input and restored (A/B
    players, spectrograms with the codec cutoff drawn), download as wav or flac. Ctrl-C stops it."""
    from apollo.app import serve

    serve(host=host, port=port, checkpoint=checkpoint, device=pick_device(device.value), open_browser=open_browser)


def main() -> None:
    import signal

    def terminated(signum, frame):  # as Ctrl-C: temporary outputs and decoded files are removed on the way out
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    run_command(app)


if __name__ == "__main__":
    main()
