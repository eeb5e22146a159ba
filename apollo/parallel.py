"""One way to map a plain function over jobs in worker processes, with a progress bar."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence


def resolve_workers(workers: int) -> int:
    return workers if workers > 0 else (os.cpu_count() or 1)


def map_progress(fn: Callable, jobs: Sequence, workers: int = 0, description: str = "") -> list:
    """[fn(job) for job in jobs], in order, over `workers` processes (0: all cores; 1: in process)."""
    from rich.progress import Progress

    workers = min(resolve_workers(workers), max(1, len(jobs)))
    results = []
    with Progress(transient=True) as bar:
        task = bar.add_task(description, total=len(jobs))
        if workers == 1:
            for job in jobs:
                results.append(fn(job))
                bar.advance(task)
            return results
        # fork: workers inherit the parent's imports; each job's randomness comes from its own seed
        with mp.get_context("fork").Pool(workers) as pool:
            for result in pool.imap(fn, jobs):
                results.append(result)
                bar.advance(task)
    return results
