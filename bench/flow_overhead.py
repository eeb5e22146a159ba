"""The pipeline flow's cost over plain DVC: the whole pipeline on tiny params, `dvc repro` vs the Prefect flow.
Each runs in its own fresh copy of the project (ephemeral Prefect, no server).
Usage: python bench/flow_overhead.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apollo.pipeline import set_params  # noqa: E402
from tests.helpers.tiny_project import TINY_OVERRIDES, commit, make_project  # noqa: E402


def main() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with tempfile.TemporaryDirectory() as tmp:
        plain = make_project(Path(tmp) / "dvc")
        set_params(plain, overrides=TINY_OVERRIDES)
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "dvc"), "repro"], cwd=plain, check=True, capture_output=True,
                       env=dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}"))  # fmt: skip
        dvc_s = time.perf_counter() - start

        flowed = make_project(Path(tmp) / "flow")
        set_params(flowed, overrides=TINY_OVERRIDES)
        commit(flowed, "tiny params")
        # the flow runs a DVC experiment and applies it: its dvc.lock should equal plain dvc repro's
        script = "import sys; sys.path.insert(0, '.'); from flows.pipeline import pipeline; pipeline(project='.', promote=True)"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", script], cwd=flowed, check=True, capture_output=True)
        flow_s = time.perf_counter() - start
        differ = lock_differences(plain / "dvc.lock", flowed / "dvc.lock")
    print(f"tiny pipeline: dvc repro {dvc_s:.1f} s, Prefect flow {flow_s:.1f} s "
          f"(+{flow_s - dvc_s:.1f} s, {flow_s / dvc_s:.2f}x); dvc.lock entries that differ: {differ or 'none'}")


def lock_differences(a: Path, b: Path) -> list[str]:
    """Paths whose hash differs between two dvc.lock files."""
    import yaml

    def hashes(path: Path) -> dict:
        stages = yaml.safe_load(path.read_text())["stages"]
        return {f"{s}:{e['path']}": e.get("md5") for s, st in stages.items() for k in ("deps", "outs") for e in st.get(k, [])}

    ha, hb = hashes(a), hashes(b)
    return sorted(k for k in ha.keys() | hb.keys() if ha.get(k) != hb.get(k))


if __name__ == "__main__":
    main()
