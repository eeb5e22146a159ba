"""`make plots`: the plots of dvc.yaml as one HTML page that renders with no network.

`dvc plots show` alone writes a page that loads vega from a CDN (blank offline). This fills
plots/template.html with the vega, vega-lite and vega-embed builds that scripts/setup.sh installed
from the npm registry (plots/node_modules, pinned by plots/package-lock.json), and hands that to
`dvc plots show --html-template`.

    python -m apollo.plots [--project .] [--out data/plots]     # writes <out>/index.html
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from apollo.errors import ApolloError, run_command

ASSETS = Path(__file__).resolve().parents[1] / "plots"  # the template and the npm packages, beside the library
TEMPLATE = ASSETS / "template.html"
MODULES = ASSETS / "node_modules"
INLINE = re.compile(r"^[ \t]*<!-- INLINE (\S+) -->[ \t]*$", re.M)


class PlotsError(ApolloError):
    pass


def page_template(template: Path = TEMPLATE, modules: Path = MODULES) -> str:
    """The DVC HTML template with each `<!-- INLINE <package file> -->` line replaced by that script."""

    def script(match: re.Match) -> str:
        path = modules / match.group(1)
        if not path.is_file():
            raise PlotsError(f"{path} is missing: run `make setup` (it installs the plot libraries with npm)")
        code = path.read_text(encoding="utf8")
        # an HTML parser ends the element at the first "</script": keep it out of the inlined code
        code = re.sub(r"</(script)", r"<\\/\1", code, flags=re.I)
        return f"<script>/* {match.group(1)} */\n{code}\n</script>"

    text = INLINE.sub(script, template.read_text(encoding="utf8"))
    for placeholder in ("{scripts}",):  # DVC would put its CDN <script> tags there
        if placeholder in text:
            raise PlotsError(f"{template}: {placeholder} loads the libraries from a CDN; leave it out")
    return text


def build(project: str | Path = ".", out: str | Path = "data/plots") -> Path:
    """Render the project's dvc.yaml plots to <out>/index.html (out: relative to the project)."""
    project = Path(project).resolve()
    if not (project / "dvc.yaml").is_file():
        raise PlotsError(f"{project}: not a DVC project (no dvc.yaml); pass --project")
    out = project / out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.html"
        template.write_text(page_template(), encoding="utf8")
        cmd = [sys.executable, "-m", "dvc", "plots", "show", "--html-template", str(template), "-o", str(out)]
        done = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
    if done.returncode:
        raise PlotsError(f"dvc plots show failed:\n{done.stdout}{done.stderr}")
    # DVC prints a line for each plot whose files are missing (e.g. before `make repro`)
    for line in (done.stdout + done.stderr).splitlines():
        if line.strip() and "file://" not in line:
            print(line, file=sys.stderr)
    page = out / "index.html"
    if not page.is_file():
        raise PlotsError(f"dvc plots show wrote no page: {' '.join((done.stdout + done.stderr).split())[-300:]}")
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default=".", help="the DVC project (default: the working directory)")
    parser.add_argument("--out", default="data/plots", help="output folder, relative to the project")
    args = parser.parse_args()
    page = build(args.project, args.out)
    print(f"wrote {page} (open it in a browser; it needs no network)")


if __name__ == "__main__":
    run_command(main)
