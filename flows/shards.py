"""Prefect flow `build-shards`: the shards stage's per-shard function mapped over a task runner.

Local threads or processes by default; a Dask cluster (prefect-dask) when the data outgrows one
machine. The same `write_shard` as the DVC stage, so the shards are byte-identical for the same params.

    python flows/shards.py --runner processes --workers 2
    python flows/shards.py --runner dask --dask-address tcp://scheduler:8786 --out s3://bucket/apollo/shards
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file by workers, not as a package

from apollo.config import load_params  # noqa: E402
from apollo.errors import run_command  # noqa: E402
from apollo.data.shards import shard_jobs, summarise_shards, write_shard  # noqa: E402
from apollo.parallel import resolve_workers  # noqa: E402

RUNNERS = ("threads", "processes", "dask")


@task(retries=2, retry_delay_seconds=10, task_run_name="shard {split}/{shard}")
def shard_task(params, split: str, shard: int) -> dict:
    return write_shard(params, split, shard)


def task_runner(runner: str, workers: int = 0, dask_address: str | None = None):
    if runner == "threads":
        return ThreadPoolTaskRunner(max_workers=resolve_workers(workers))
    if runner == "processes":
        return ProcessPoolTaskRunner(max_workers=resolve_workers(workers))
    if runner == "dask":
        from prefect_dask import DaskTaskRunner

        # an existing scheduler when given, else a local cluster (handy to try the Dask path)
        if dask_address:
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": resolve_workers(workers)})
    raise ValueError(f"runner must be one of {', '.join(RUNNERS)}, not {runner!r}")


@flow(name="write-shards")
def _write(jobs: list) -> list[dict]:
    futures = [shard_task.submit(params, split, shard) for params, split, shard in jobs]
    return [f.result() for f in futures]


@flow(name="build-shards", log_prints=True)
def build_shards(project: str = ".", params_file: str = "params.yaml", out: str | None = None,
                 runner: str = "processes", workers: int = 0, dask_address: str | None = None) -> dict:  # fmt: skip
    """Write every shard of the params' `shards` section (to `out`: a folder or an fsspec URL, default
    `shards.out`) over a task runner: threads, processes or dask (at `dask_address`)."""
    project = Path(project).resolve()
    params = load_params(project / params_file).shard_params()
    index = Path(params.index)
    params = dataclasses.replace(params, index=str(index if index.is_absolute() else project / index),
                                 out=out or str(project / params.out))  # fmt: skip
    jobs = shard_jobs(params)
    get_run_logger().info("%d shards to %s on %s", len(jobs), params.out, runner)
    results = _write.with_options(task_runner=task_runner(runner, workers, dask_address))(jobs)
    summary = summarise_shards(params, jobs, results)
    for split, s in summary["splits"].items():
        print(f"{split}: {s['samples']} samples in {s['shards']} shards")
    return summary


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write the WebDataset shards as a Prefect flow (ephemeral, no server needed).")
    parser.add_argument("--params-file", default="params.yaml")
    parser.add_argument("--out", help="folder or fsspec URL (s3://..., gs://...); default: shards.out")
    parser.add_argument("--runner", choices=RUNNERS, default="processes")
    parser.add_argument("--workers", type=int, default=0, help="0: all cores")
    parser.add_argument("--dask-address", help="scheduler address of an existing Dask cluster")
    a = parser.parse_args()

    def main() -> None:
        load_params(a.params_file)  # a bad params file is the user's mistake: one line, before any flow run starts
        build_shards(params_file=a.params_file, out=a.out, runner=a.runner, workers=a.workers, dask_address=a.dask_address)

    run_command(main)
