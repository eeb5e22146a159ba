"""Where a generator's weights are: a local file, a hub file (hf://...), or the pipeline's own model.

One home for the command line and the web app, and light to import: restoring needs no corpus code."""

from __future__ import annotations

import sys
from pathlib import Path

from apollo.errors import ApolloError


class NoCheckpoint(ApolloError):
    """No weights where they were asked for."""


def checkpoint_path(spec: str) -> Path:
    """A local file, or a hub file (hf://...) resolved through the hub cache."""
    from apollo import hub

    return hub.resolve(spec) if hub.is_hub(spec) else Path(spec).expanduser()


def project_root() -> Path:
    """The project in the working folder, else the one this installation was made from."""
    here = Path.cwd()
    return here if (here / "params.yaml").is_file() else Path(__file__).resolve().parents[1]


def default_checkpoint() -> Path:
    """The pipeline's trained generator (params.yaml's train.out), printed to stderr."""
    from apollo.config import load_params

    root = project_root()
    params = root / "params.yaml"
    path = root / load_params(params).generator_path if params.is_file() else None
    if path is None or not path.is_file():
        raise NoCheckpoint(f"no checkpoint given and no trained generator at {path or 'data/train'}; "
                           "run `make repro` first or pass --checkpoint FILE")  # fmt: skip
    print(f"checkpoint: {path}", file=sys.stderr)
    return path
