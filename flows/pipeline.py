"""Prefect flow `pipeline`: a retrain as a DVC experiment, promoted to the workspace on purpose.

Each run is `dvc exp run --temp` under the flow run's name (retrain-<UTC time>-<hex>): the workspace's
params.yaml, dvc.lock and outputs are untouched while it runs, `dvc exp show` lists it with its params and
metrics, and two runs at once never mix. `promote` decides whether it becomes the workspace's
(`dvc exp apply`); by default a plain retrain (no overrides) is promoted when its evaluation is no worse.

Run once without a server:      python flows/pipeline.py [--overrides train.steps=50 ...] [--promote]
Scheduled as deployment `retrain` in prefect.yaml.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file by workers, not as a package

from apollo import experiments  # noqa: E402
from apollo.config import Params, apply_overrides, build_params, layer, read_raw  # noqa: E402
from apollo.errors import run_command  # noqa: E402
from apollo.pipeline import metrics_table, stage_order, stage_summary  # noqa: E402
from apollo.report import artifact_markdown  # noqa: E402


def validated(project: Path, params_file: str | None, overrides: list[str]) -> tuple[dict, dict, Params]:
    """(workspace params, the run's params, parsed): every mistake reported before anything runs."""
    workspace = read_raw(project / "params.yaml")
    source = layer(workspace, read_raw(project / params_file)) if params_file else workspace
    target = apply_overrides(source, overrides)
    return workspace, target, build_params(target)


@task(task_run_name="dvc exp run {name}")
def run_experiment(project: Path, name: str, set_args: list[str], stages: list[str] | None) -> str:
    # no retries: the workspace is untouched by a failure, and a retry would need a new experiment name
    return experiments.run_experiment(project, name, set_args, stages)


@task(task_run_name="dvc exp apply {name}")
def promote_experiment(project: Path, name: str) -> str:
    return experiments.promote(project, name)


@flow(name="pipeline", flow_run_name=experiments.new_name, log_prints=True)
def pipeline(project: str = ".", params_file: str | None = None, overrides: list[str] | None = None,
             stages: list[str] | None = None, promote: bool | None = None) -> dict:  # fmt: skip
    """Rebuild data, retrain and re-evaluate as a DVC experiment named after this flow run.

    params_file: a profile (relative to the project, e.g. profiles/paper.yaml) layered on params.yaml; overrides:
    `section.key=value` settings on top (YAML values, as `dvc exp run -S`); stages: only these stages
    (and what they need). promote: make the experiment the workspace's (`dvc exp apply`): true, false,
    or unset: promote a plain run (no params_file, no overrides, every stage) when its evaluation
    (SI-SNR of the restored test split) is no worse than the workspace's."""
    logger = get_run_logger()
    project_dir = Path(project).resolve()
    workspace, target, params = validated(project_dir, params_file, list(overrides or []))
    name = flow_run.name or experiments.new_name()
    set_args = experiments.set_param_args(workspace, target)
    logger.info("experiment %s: dvc exp run --temp %s", name, " ".join(set_args))
    output = run_experiment(project_dir, name, set_args, stages)
    logger.info("%s", _tail(output))

    summaries = {s: stage_summary(s, params, project_dir, rev=name) for s in stage_order(project_dir)}
    summaries = {s: v for s, v in summaries.items() if v}
    new, old = summaries.get("evaluate"), stage_summary("evaluate", params, project_dir) or None  # old: the workspace's
    if new:
        publish_evaluation(project_dir, name, params, new)
    if promote is None:
        plain = not params_file and not overrides and not stages
        promote = plain and experiments.no_worse(new, old)
        logger.info("promote: %s (%s; SI-SNR %.3f dB vs the workspace's %.3f dB)", promote,
                    "a plain retrain" if plain else "settings of its own", experiments.score(new), experiments.score(old))
    if promote:
        promote_experiment(project_dir, name)
        logger.info("experiment %s is now the workspace's (params.yaml, dvc.lock, outputs)", name)
    return {"experiment": name, "promoted": bool(promote), "summaries": summaries}


def publish_evaluation(project: Path, name: str, params: Params, metrics: dict) -> None:
    """The experiment's evaluation as a table artifact and its report (images embedded) as markdown."""
    description = f"experiment {name}: restored vs unprocessed MP3 on the test split and real audio"
    create_table_artifact(metrics_table(metrics), key="evaluation-metrics", description=description)
    with tempfile.TemporaryDirectory() as tmp:
        report = experiments.export(project, params.evaluate.out, name, Path(tmp) / "eval")
        create_markdown_artifact(artifact_markdown(report), key="evaluation-report", description=f"experiment {name}: report.md")


def _tail(output: str, lines: int = 8) -> str:
    kept = [line for line in output.strip().splitlines() if line.strip() and "dvc push" not in line]
    return "\n".join(kept[-lines:])


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Retrain as a DVC experiment in a Prefect flow (ephemeral, no server needed).")
    parser.add_argument("--params-file", help="a profile layered on params.yaml, e.g. profiles/paper.yaml")
    parser.add_argument("--overrides", nargs="*", default=[], help="section.key=value settings, e.g. train.steps=50")
    parser.add_argument("--stages", nargs="*", help="only these stages (and what they need)")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--promote", dest="promote", action="store_true", default=None, help="apply the experiment to the workspace")
    choice.add_argument("--no-promote", dest="promote", action="store_false", help="never apply it")
    args = parser.parse_args()

    def main() -> None:
        # a bad params file or override is the user's mistake: one line each, before any flow run starts
        validated(Path.cwd(), args.params_file, args.overrides)
        experiments.require_commit(Path.cwd())
        result = pipeline(params_file=args.params_file, overrides=args.overrides, stages=args.stages, promote=args.promote)
        print(f"experiment {result['experiment']}: {'promoted to the workspace' if result['promoted'] else 'not promoted'}")

    run_command(main)
