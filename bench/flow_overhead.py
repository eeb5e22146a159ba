"""The pipeline flow's cost over plain DVC: the whole pipeline on tiny params, `dvc repro` vs the Prefect flow.
Each runs in its own fresh clone of the project's last commit (ephemeral Prefect, no server), with
profiles/tiny.yaml written into its params.yaml.
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

ROOT = Path(__file__).resolve().parents[1]


def tiny_clone(dest: Path) -> Path:
    """A clone of the project's last commit with the tiny profile written into params.yaml and committed."""
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    set_params(dest, profile=str(ROOT / "profiles" / "tiny.yaml"))
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qam", "tiny"],
                   cwd=dest, check=True)  # fmt: skip  (DVC experiments start from a commit)
    return dest


def main() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with tempfile.TemporaryDirectory() as tmp:
        plain = tiny_clone(Path(tmp) / "dvc")
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "dvc"), "repro"], cwd=plain, check=True, capture_output=True,
                       env=dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}"))  # fmt: skip
        dvc_s = time.perf_counter() - start

        flowed = tiny_clone(Path(tmp) / "flow")
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
