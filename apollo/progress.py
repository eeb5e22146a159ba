"""Progress lines for long stages (training, evaluation): what step, the latest values, the rate and the
time left. Plain lines, not a redrawn bar, so they read the same on a terminal and in a stage's log
(`dvc repro`, a Prefect flow run): one every few seconds on a terminal, every 30 s otherwise."""

from __future__ import annotations

import sys
import time


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Ticker:
    """``update(done, **values)`` prints ``what done/total (pct)  key value ...  rate  ETA`` when due."""

    def __init__(self, what: str, total: int | None, start: int = 0, every: float | None = None, stream=None):
        self.what, self.total, self.start = what, total, start
        self.stream = stream or sys.stdout
        self.every = every if every is not None else (5.0 if self.stream.isatty() else 30.0)
        self.began = self.last = time.perf_counter()

    def update(self, done: int, force: bool = False, **values: float) -> str | None:
        now = time.perf_counter()
        if not force and now - self.last < self.every:
            return None
        self.last = now
        line = self.line(done, now - self.began, values)
        print(line, file=self.stream, flush=True)
        return line

    def line(self, done: int, elapsed: float, values: dict[str, float]) -> str:
        parts = [f"{self.what} {done}/{self.total} ({100 * done / self.total:.0f}%)" if self.total else f"{self.what} {done}"]
        parts += [f"{key} {value:.4g}" for key, value in values.items()]
        fresh = done - self.start  # what this run did: a resumed run's rate counts its own steps only
        if fresh > 0 and elapsed > 0:
            per = elapsed / fresh
            parts.append(f"{per:.2f} s each" if per >= 1 else f"{1 / per:.1f}/s")
            if self.total:
                parts.append(f"ETA {duration(per * max(self.total - done, 0))}")
        return "  ".join(parts)
