"""scripts/setup.sh (the first half of both README commands) as a user meets it on a nearly full disk."""

import shutil
import subprocess

import pytest

from apollo.config import PROJECT as ROOT

pytestmark = pytest.mark.slow  # mounts a tmpfs and runs the script: a second or two


def test_a_nearly_full_disk_stops_setup_before_it_starts(tmp_path):
    disk = tmp_path / "small"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(disk)], capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()})")
    try:
        # a checkout on that disk, as far as the script reads it; 32 MB holds a bare venv, not torch
        (disk / "scripts").mkdir()
        for name in ("scripts/setup.sh", "pyproject.toml", "constraints.txt", "constraints-cpu.txt"):
            shutil.copy(ROOT / name, disk / name)
        res = subprocess.run(["bash", "scripts/setup.sh"], cwd=disk, capture_output=True, text=True, timeout=300)
        assert res.returncode == 1, res.stdout + res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("setup: only ") and "MB free on the disk of" in lines[0], res.stderr
        assert "installing python packages" not in res.stdout
        assert not (disk / ".venv").exists()  # nothing half-made for the next run to trust
    finally:
        subprocess.run(["umount", str(disk)], check=True)
