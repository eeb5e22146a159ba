"""Prefect flow `pipeline`: the DVC stages in order, one task each (`dvc repro <stage>`).

Run once without a server:      python flows/pipeline.py [--overrides train.steps=50 ...]
Scheduled as deployment `retrain` in prefect.yaml.
"""

from __future__ import annotations

import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file by workers, not as a package

from apollo.config import apply_overrides, read_raw  # noqa: E402
from apollo.errors import run_command  # noqa: E402
from apollo.pipeline import metrics_table, run_stage, set_params, stage_order, stage_summary  # noqa: E402


@task(retries=2, retry_delay_seconds=30, task_run_name="dvc repro {stage}")
def repro(stage: str, project: str) -> str:
    # retried: a transient failure (a worker's disk, a network filesystem) should not lose a scheduled run
    return run_stage(stage, project)


@flow(name="pipeline", log_prints=True)
def pipeline(project: str = ".", params_file: str | None = None, overrides: list[str] | None = None,
             stages: list[str] | None = None) -> dict:  # fmt: skip
    """Rebuild the pipeline with DVC: data, training, evaluation (stages DVC finds up to date are skipped).

    params_file: a params file to use as params.yaml (default: the project's own); overrides:
    `section.key=value` settings on top (YAML values, as `dvc exp run -S`); stages: a subset, in order.
    project: the project folder (default: the working directory, which a deployment's pull step sets)."""
    logger = get_run_logger()
    project = str(Path(project).resolve())
    params = set_params(project, params_file, overrides or [])
    summaries = {}
    for stage in stages or stage_order(project):
        output = repro(stage, project)
        logger.info("%s:\n%s", stage, _tail(output))
        summaries[stage] = stage_summary(stage, params, project)
        logger.info("%s summary: %s", stage, _short(summaries[stage]))
    if summaries.get("evaluate"):
        create_table_artifact(metrics_table(summaries["evaluate"]), key="evaluation-metrics",
                              description="Restored vs unprocessed MP3 on the test split and real audio")  # fmt: skip
        report = Path(project) / params.evaluate.out / "report.md"
        if report.is_file():
            create_markdown_artifact(report.read_text(), key="evaluation-report", description="data/eval/report.md")
    return summaries


def _tail(output: str, lines: int = 6) -> str:
    kept = [line for line in output.strip().splitlines() if line.strip() and "dvc push" not in line]
    return "\n".join(kept[-lines:])


def _short(summary: dict, limit: int = 600) -> str:
    text = str(summary)
    return text if len(text) <= limit else text[:limit] + " ..."


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Run the DVC pipeline as a Prefect flow (ephemeral, no server needed).")
    parser.add_argument("--params-file", help="use this file as params.yaml")
    parser.add_argument("--overrides", nargs="*", default=[], help="section.key=value settings, e.g. train.steps=50")
    parser.add_argument("--stages", nargs="*", help="only these stages, in this order")
    args = parser.parse_args()

    def main() -> None:
        # a bad params file or override is the user's mistake: one line, before any flow run starts
        apply_overrides(read_raw(args.params_file or "params.yaml"), args.overrides)
        pipeline(params_file=args.params_file, overrides=args.overrides, stages=args.stages)

    run_command(main)
