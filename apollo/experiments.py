"""Retraining as DVC experiments: isolated from the workspace, listed by `dvc exp show`, promoted on purpose.

A retrain runs ``dvc exp run --temp`` in a copy of the repository under
``.dvc/tmp/exps``: the workspace's ``params.yaml``, ``dvc.lock`` and outputs stay
as they are, unchanged stages are checked out from the shared cache, and two
runs at once never see each other's settings or results. Promotion is
``dvc exp apply``: the experiment's params, lock and outputs become the
workspace's.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from apollo.errors import ApolloError


class ExperimentError(ApolloError):
    pass


def dvc(project: str | Path, *args: str) -> str:
    """Run a dvc command in `project` with this interpreter's environment first on PATH; its output."""
    beside = Path(sys.executable).parent
    tool = str(beside / "dvc") if (beside / "dvc").exists() else (shutil.which("dvc") or "dvc")
    env = dict(os.environ, PATH=f"{beside}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([tool, *args], cwd=project, env=env, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    if proc.returncode:
        raise ExperimentError(f"dvc {' '.join(args[:2])} failed (exit {proc.returncode}):\n{output[-4000:]}")
    return output


def new_name(prefix: str = "retrain") -> str:
    """A unique, sortable experiment name (a valid git ref): retrain-20261125-031500-a1b2."""
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"


def hydra_literal(value) -> str:
    """A value in the override grammar `dvc exp run -S` parses (Hydra's), with the same meaning as in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # double-quoted, escaped: "fp32" stays a string, "" stays empty
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(hydra_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{hydra_literal(v)}" for k, v in value.items()) + "}"
    raise ExperimentError(f"cannot pass {type(value).__name__} value {value!r} to dvc exp run")


def set_param_args(base: dict, target: dict) -> list[str]:
    """`-S` arguments that turn the params `base` (the workspace's params.yaml) into `target`.

    A mapping value is replaced, not merged (`~key` then `++key=...`), so
    `shards.codecs={mp3: 1.0}` drops a codec the workspace has."""
    args: list[str] = []
    for key, value in _leaves(target):
        old = _get(base, key)
        if old == value and type(old) is type(value):
            continue
        if isinstance(value, dict) and isinstance(old, dict):
            args += ["-S", f"~{key}"]
        args += ["-S", f"++{key}={hydra_literal(value)}"]
    return args


def _leaves(params: dict):
    """(section.key, value) for each setting; a mapping-valued setting (shards.samples) is one value."""
    for section, values in params.items():
        if isinstance(values, dict):
            yield from ((f"{section}.{key}", value) for key, value in values.items())
        else:
            yield section, values


def _get(tree: dict, key: str):
    for part in key.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return _MISSING
        tree = tree[part]
    return tree


_MISSING = object()


def require_commit(project: str | Path) -> None:
    proc = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=project, capture_output=True, text=True)
    if proc.returncode:
        raise ExperimentError(f"{project}: DVC experiments need a git repository with a commit; commit the project first")


def run_experiment(project: str | Path, name: str, set_args: list[str], targets: list[str] | None = None,
                   temp: bool = True) -> str:  # fmt: skip
    """`dvc exp run --temp --name <name>`: the pipeline (or `targets` and what they need) in an isolated copy.

    `temp=False` runs it in the workspace: a long run (the paper's) then keeps its checkpoints there and a
    rerun resumes; a temporary copy is deleted with them when its run fails."""
    require_commit(project)
    return dvc(project, "exp", "run", *(["--temp"] if temp else []), "--name", name, *set_args, *(targets or []))


def read_file(project: str | Path, path: str, rev: str | None = None) -> bytes | None:
    """A file of the project at `rev` (an experiment name), from git or the DVC cache; None if it has none."""
    if rev is None:
        local = Path(project) / path
        return local.read_bytes() if local.is_file() else None
    import dvc.api

    try:
        return dvc.api.read(path, repo=str(project), rev=rev, mode="rb")
    except Exception:  # not produced by this experiment (a stage subset, a failed stage)
        return None


def export(project: str | Path, path: str, rev: str, dest: str | Path) -> Path:
    """Copy a folder of an experiment's outputs (from the DVC cache) to `dest`."""
    from dvc.api import DVCFileSystem

    DVCFileSystem(str(project), rev=rev).get(path, str(dest), recursive=True)
    return Path(dest)


def score(metrics: dict | None) -> float:
    """What promotion compares: the restored SI-SNR over the whole test split (dB, higher is better)."""
    if not metrics:
        return -math.inf
    # a workspace evaluated before metrics.json grouped its sets under "sets" holds the test split's block at the top
    synthetic = metrics["sets"]["synthetic"] if "sets" in metrics else metrics
    return float(synthetic["overall"]["restored"]["si_snr"])


def no_worse(new: dict | None, old: dict | None) -> bool:
    return new is not None and score(new) >= score(old)


def promote(project: str | Path, name: str) -> str:
    """`dvc exp apply`: the experiment's params.yaml, dvc.lock and outputs become the workspace's."""
    return dvc(project, "exp", "apply", name)


def main(argv: list[str] | None = None) -> None:
    """`python -m apollo.experiments --profile profiles/paper.yaml`: a DVC experiment of params.yaml with a
    profile layered on it (`make train-paper`)."""
    import argparse

    from apollo.config import apply_overrides, build_params, layer, read_raw

    parser = argparse.ArgumentParser(prog="python -m apollo.experiments", description=main.__doc__)
    parser.add_argument("--profile", required=True, help="a profile file layered on params.yaml")
    parser.add_argument("--overrides", nargs="*", default=[], help="section.key=value settings on top")
    parser.add_argument("--name", default=None, help="experiment name (default: <profile>-<UTC time>-<hex>)")
    parser.add_argument("--dry-run", action="store_true", help="print the dvc command, run nothing")
    args = parser.parse_args(argv)
    project = Path.cwd()
    workspace = read_raw(project / "params.yaml")
    target = apply_overrides(layer(workspace, read_raw(args.profile)), args.overrides)
    build_params(target)  # every mistake, before DVC touches anything
    name = args.name or new_name(Path(args.profile).stem)
    set_args = set_param_args(workspace, target)
    print("dvc exp run --name", name, " ".join(set_args), flush=True)
    if not args.dry_run:
        print(run_experiment(project, name, set_args, temp=False))


if __name__ == "__main__":
    from apollo.errors import run_command

    run_command(main)
