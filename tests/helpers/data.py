"""Test data built with the pipeline's own code."""

from __future__ import annotations

from pathlib import Path

from apollo.data.sad import build_index, write_index
from tests.helpers.params import section


def folder_index(stem_folder: Path, out: Path) -> str:
    """The SAD index of a stem folder, with params.yaml's detection settings; returns its path."""
    index = build_index(section("sources", kind="folder", root=str(stem_folder)), section("sad.detection"), workers=1)
    write_index(index, out)
    return str(out / "index.json")
