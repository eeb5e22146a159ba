#!/usr/bin/env bash
# Idempotent setup: system packages (apt, when root), .venv, CPU torch, the package.
# A second run installs nothing: it checks dpkg and a stamp of the dependency files.
set -euo pipefail
cd "$(dirname "$0")/.."

# sonic-pi-samples: real recorded audio (CC0 FLAC loops) for the evaluation's real-audio set
APT_PACKAGES=(ffmpeg fluidsynth fluid-soundfont-gm sonic-pi-samples)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages; run: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  fi
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=".venv/.installed-$(cat pyproject.toml constraints-cpu.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing python packages into .venv"
  # pip warns about every name missing from the machine's extra local indexes: keep the log readable
  quiet() { "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; }; }
  quiet .venv/bin/python -m pip install -q -c constraints-cpu.txt "torch==2.13.0+cpu"
  quiet .venv/bin/python -m pip install -q -c constraints-cpu.txt -e '.[dev]'
  if .venv/bin/python -m pip list 2>/dev/null | grep -Ei '^(nvidia-|triton )'; then
    echo "setup: CUDA wheels were pulled in; this is a bug" >&2; exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
