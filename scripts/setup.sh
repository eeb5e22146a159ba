#!/usr/bin/env bash
# Idempotent setup: system packages (apt, when root), .venv, CPU torch, the package.
# A second run installs nothing: it checks dpkg and a stamp of the dependency files.
set -euo pipefail
cd "$(dirname "$0")/.."

# The corpus' real recordings (lossless, with a real high band): Hydrogen drum kits and guitar strums, the
# AVL drum kits (SF2), MuseScore General (a lossless General MIDI soundfont), sonic-pi's loops and
# instruments (also the evaluation's real-audio set: the files the corpus holds out)
# chromium: headless, for the test that opens the `make plots` page offline
APT_PACKAGES=(ffmpeg fluidsynth fluid-soundfont-gm musescore-general-soundfont-lossless hydrogen-drumkits
              hydrogen-drumkits-effects avldrums.lv2-soundfont sonic-pi-samples chromium)
# npm: the plot libraries (below); only when missing, as a NodeSource nodejs bundles its own npm
command -v npm >/dev/null || APT_PACKAGES+=(npm)
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
stamp=".venv/.installed-$(cat pyproject.toml constraints-cpu.txt constraints.txt | sha256sum | cut -c1-16)"
# the environment takes about 2.2 GB (torch alone 0.9); a disk that fills halfway through leaves pip's
# traceback and a broken .venv, so say so before starting
NEED_MB=3000
if [ ! -f "$stamp" ]; then
  free_mb=$(( $(df -Pk . | awk 'NR == 2 {print $4}') / 1024 ))
  if (( free_mb < NEED_MB )); then
    echo "setup: only $free_mb MB free on the disk of $PWD; the Python environment needs about $NEED_MB MB" >&2
    exit 1
  fi
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  echo "setup: installing python packages into .venv"
  # pip warns about every name missing from the machine's extra local indexes: keep the log readable
  quiet() { "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; }; }
  quiet .venv/bin/python -m pip install -q -c constraints-cpu.txt "torch==2.13.0+cpu"
  # constraints.txt: the tested versions of everything, transitive packages included
  quiet .venv/bin/python -m pip install -q -c constraints-cpu.txt -c constraints.txt -e '.[dev]'
  if .venv/bin/python -m pip list 2>/dev/null | grep -Ei '^(nvidia-|triton )'; then
    echo "setup: CUDA wheels were pulled in; this is a bug" >&2; exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# vega, vega-lite and vega-embed for `make plots` (inlined into an offline page), from the npm registry
# at the versions in plots/package-lock.json; --ignore-scripts: nothing of theirs runs here
npm_stamp="plots/node_modules/.installed-$(cat plots/package.json plots/package-lock.json | sha256sum | cut -c1-16)"
if [ ! -f "$npm_stamp" ]; then
  if command -v npm >/dev/null; then
    echo "setup: installing the plot libraries into plots/node_modules"
    npm ci --prefix plots --ignore-scripts --no-audit --no-fund --loglevel=error
    touch "$npm_stamp"
  else
    echo "setup: npm missing: \`make plots\` needs it (sudo apt-get install -y npm)" >&2
  fi
fi
