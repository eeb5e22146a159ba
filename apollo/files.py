"""Writes that no reader sees half done, and local paths versus fsspec URLs: the one place for both.

:func:`atomic` is the pattern every writer of the project uses: write under a fresh temporary name beside the
target, rename it onto the target when complete. The temporary name is unique per call (created exclusively,
``.<name>.<pid>-<random>.tmp``), so two writers of one target never share it: the last to finish wins whole.
On any exception, KeyboardInterrupt (SIGINT) included, the temporary is removed and the target left as it was.
An fsspec URL (``s3://...``, ``memory://...``) is written to a local temporary file and uploaded in one piece
when complete, which object stores make atomic.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def is_url(path: str | os.PathLike) -> bool:
    """True for an fsspec URL (``s3://bucket/key``, ``memory://x``), False for a local path."""
    return "://" in str(path)


@contextmanager
def atomic(path: str | os.PathLike, *, folder: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary path (an empty file, or with ``folder`` an empty folder) to write; when the block
    completes, it replaces ``path`` (a folder replaces a folder and what was in it). The parent folder must exist.

    For a URL, the temporary is a local file, uploaded to the URL when the block completes (files only)."""
    if is_url(path):
        if folder:
            raise ValueError(f"{path}: atomic folders are local only")
        with _upload(str(path)) as tmp:
            yield tmp
        return
    target = Path(path)
    tmp = _fresh(target, folder)
    try:
        yield tmp
        _move(tmp, target, folder)
    except BaseException:  # KeyboardInterrupt too: no temporary outlives the block
        _remove(tmp, folder)
        raise


def _fresh(target: Path, folder: bool) -> Path:
    """Create a temporary beside `target`, exclusively; modes as a plain open() or mkdir() would give them
    (mkstemp and mkdtemp make them private, which the rename would pass on to the target)."""
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            if folder:
                os.mkdir(tmp)
            else:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{target}: no free temporary name beside it")


def _move(tmp: Path, target: Path, folder: bool) -> None:
    if not (folder and target.is_dir() and not target.is_symlink()):
        os.replace(tmp, target)
        return
    # a rename cannot replace a non-empty folder: move the old one aside, the new one in, then delete the old
    old = _fresh(target, folder=True)
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _remove(tmp: Path, folder: bool) -> None:
    if folder:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.unlink(missing_ok=True)


@contextmanager
def _upload(url: str) -> Iterator[Path]:
    import fsspec

    handle, name = tempfile.mkstemp(suffix=".tmp", prefix="apollo-upload-")
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        fs, remote = fsspec.core.url_to_fs(url)
        fs.makedirs(fs._parent(remote), exist_ok=True)  # as fsspec.open(url, "w") does: a no-op on object stores
        fs.put_file(str(tmp), remote)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Local paths atomically; fsspec URLs (``s3://...``) in one upload."""
    with atomic(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, data, *, indent: int = 1, sort_keys: bool = False) -> None:
    write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")
