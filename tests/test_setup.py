"""scripts/setup.sh (the first half of both README commands) as a user meets it on a nearly full disk."""

import shutil
import subprocess

import pytest

from apollo.config import PROJECT as ROOT
from tests.helpers.disk import small_disk

pytestmark = pytest.mark.slow  # mounts a tmpfs and runs the script


def test_a_nearly_full_disk_stops_setup_before_it_starts(tmp_path):
    # a checkout on a 32 MB disk, as far as the script reads it: room for a bare venv, not for torch
    with small_disk(tmp_path / "small", "32m") as disk:
        (disk / "scripts").mkdir()
        for name in ("scripts/setup.sh", "pyproject.toml", "constraints.txt", "constraints-cpu.txt"):
            shutil.copy(ROOT / name, disk / name)
        res = subprocess.run(["bash", "scripts/setup.sh"], cwd=disk, capture_output=True, text=True, timeout=300)
        assert res.returncode == 1, res.stdout + res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("setup: only ") and "MB free on the disk of" in lines[0], res.stderr
        assert "installing python packages" not in res.stdout
        assert not (disk / ".venv").exists()  # nothing half-made for the next run to trust
