"""The DVC pipeline seen from outside: stage order, a stage's summary, its params, the metrics table.

The Prefect flows (``flows/``) orchestrate through these functions and
``apollo.experiments``; DVC stays the unit of caching and versioning.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from apollo import paths
from apollo.config import Params, apply_overrides, build_params, profile_overrides, read_raw
from apollo.files import write_text

ROOT = Path(__file__).resolve().parents[1]


def stage_order(project: str | Path = ROOT) -> list[str]:
    """Stages as dvc.yaml lists them (written upstream first)."""
    return list(yaml.safe_load((Path(project) / "dvc.yaml").read_text())["stages"])


SUMMARIES = {  # stage -> (params section, file under its `out`); model_card's `out` is the file itself
    "synth": ("synth", paths.SUMMARY),
    "sad": ("sad", paths.SUMMARY),
    "shards": ("shards", paths.SUMMARY),
    "train": ("train", paths.METRICS),
    "evaluate": ("evaluate", paths.METRICS),
    "model_card": ("model_card", ""),
}


def stage_summary(stage: str, params: Params, project: str | Path = ROOT, rev: str | None = None) -> dict:
    """What a stage reports about its last run, in the workspace or experiment `rev` ({} if nothing)."""
    from apollo.experiments import read_file

    if stage not in SUMMARIES:
        return {}
    section, name = SUMMARIES[stage]
    out = getattr(params, section).out
    data = read_file(project, paths.join(out, name) if name else out, rev)
    if data is None:
        return {}
    summary = json.loads(data)
    if stage == "shards":  # drop the echo of the params
        summary = summary.get("splits", summary)
    return summary


def set_params(project: str | Path = ROOT, profile: str | None = None, overrides: list[str] = ()) -> Params:
    """Write a profile (e.g. profiles/paper.yaml) and `section.key=value` overrides into `project`/params.yaml
    (as ``dvc exp run -S``), e.g. to run the paper's setup with plain `dvc repro`.

    Validated before anything is written; comments survive (a round-trip YAML edit); unchanged
    settings leave the file untouched."""
    import io

    from ruamel.yaml import YAML

    target = Path(project) / "params.yaml"
    overrides = (profile_overrides(read_raw(profile)) if profile else []) + list(overrides)
    editor = YAML()  # round-trip: keeps comments, order and quotes
    editor.preserve_quotes = True  # "no" must stay a string for PyYAML (YAML 1.1), which reads it back
    text = io.StringIO()
    editor.dump(apply_overrides(editor.load(target.read_text()), overrides), text)
    raw = yaml.safe_load(text.getvalue())
    params = build_params(raw)  # checked as the stages will read it, before anything is written
    if raw != read_raw(target):
        write_text(target, text.getvalue())
    return params


def metrics_table(result: dict) -> list[dict]:
    """Evaluation metrics as rows (set, group, metric, restored, mp3) for a table artifact."""
    rows = []
    for name, block in result["sets"].items():
        groups = {"overall": block["overall"], **{f"{k} kbps": v for k, v in block["per_bitrate"].items()},
                  **block.get("per_category", {})}  # fmt: skip
        for group, entry in groups.items():
            for metric, value in entry["restored"].items():
                rows.append({"set": name.replace("_", " "), "group": group, "metric": metric, "restored": value,
                             "mp3": entry["mp3"][metric]})  # fmt: skip
    return rows
