"""Atomic small-file writes: a temporary name beside the target, renamed when complete."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_text(path: str | Path, text: str) -> None:
    """Local paths atomically; fsspec URLs (``s3://...``) in one upload, which object stores make atomic."""
    if "://" in str(path):
        import fsspec

        with fsspec.open(str(path), "w") as f:
            f.write(text)
        return
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: str | Path, data, *, indent: int = 1, sort_keys: bool = False) -> None:
    write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")
