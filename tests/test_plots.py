"""`make plots`: the dvc.yaml plots name what they draw, and the page renders in a browser with no network."""

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from apollo import paths
from apollo.plots import page_template
from apollo.report import per_bitrate_tsv
from apollo.train import Logs
from tests.helpers.live import chromium

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
EVAL_COLUMNS = tuple(per_bitrate_tsv(
    {"24": {s: {m: 0.0 for m in ("sdr", "si_snr", "visqol", "lsd", "hf_err")} for s in ("restored", "mp3")}}).split("\n")[0].split("\t"))
LOGS = paths.join(PARAMS["train"]["out"], paths.TRAIN_LOGS)
COLUMNS = {  # what the pipeline writes at each plotted path
    paths.join(LOGS, paths.TRAIN_LOG): Logs.TRAIN,
    paths.join(LOGS, paths.VAL_LOG): ("step", "val_loss"),
    paths.join(PARAMS["evaluate"]["out"], paths.PER_BITRATE_TSV): EVAL_COLUMNS,
    paths.join(PARAMS["evaluate"]["out"], paths.REAL_PER_BITRATE_TSV): EVAL_COLUMNS,
    paths.join(PARAMS["evaluate"]["out"], paths.MIX_PER_BITRATE_TSV): EVAL_COLUMNS,
}  # fmt: skip


def resolve(text: str) -> str:
    """dvc.yaml's ${...} from params.yaml and apollo/paths.py, as DVC's vars resolve them."""
    def value(match):
        name = match.group(1)
        if "." not in name:
            return getattr(paths, name)
        section, key = name.split(".")
        return str(PARAMS[section][key])

    return re.sub(r"\$\{([\w.]+)\}", value, text)


def plot_definitions() -> dict:
    plots = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    return {name: {**spec, "y": {resolve(p): f for p, f in spec["y"].items()}} for entry in plots for name, spec in entry.items()}


def test_every_plot_is_titled_and_draws_columns_the_pipeline_writes():
    plots = plot_definitions()
    assert len(plots) == 9
    for name, spec in plots.items():
        assert spec["title"] and spec["x_label"] and spec["y_label"], name
        assert spec["y_label"] not in ("y", spec["x"]), name
        for path, fields in spec["y"].items():
            fields = [fields] if isinstance(fields, str) else fields
            assert {spec["x"], *fields} <= set(COLUMNS[path]), (name, path)


def test_page_template_inlines_the_libraries_and_loads_nothing():
    page = page_template()
    assert "{plot_divs}" in page and "{scripts}" not in page
    assert "<!-- INLINE" not in page and "<script src" not in page
    assert len(page) > 500_000  # vega, vega-lite and vega-embed themselves
    assert page.lower().count("</script") == page.lower().count("<script")  # no early end inside the code


def fake_outputs(project: Path) -> None:
    """Small logs and evaluation tables in the pipeline's formats (what a short run writes)."""
    logs = project / "data" / "train" / "logs"
    logs.mkdir(parents=True)
    rows = ["\t".join(Logs.TRAIN)]
    for step in range(1, 121):
        stft = 1 + 3 * math.exp(-step / 40) + 0.1 * math.sin(step)
        rows.append(f"{step}\t{0.5 + 0.05 * math.sin(step / 3):.4f}\t{45 * stft:.4f}\t{0.7 - 0.04 * math.cos(step / 5):.4f}"
                    f"\t{0.3 + 0.1 * math.exp(-step / 30):.4f}\t{stft:.4f}\t{stft / 2:.4f}\t0.001")  # fmt: skip
    (logs / "train.tsv").write_text("\n".join(rows) + "\n")
    (logs / "val.tsv").write_text("step\tval_loss\n" + "".join(f"{s}\t{1.2 + 3 * math.exp(-s / 40):.4f}\n" for s in range(20, 121, 20)))
    for name, shift in (("per_bitrate.tsv", 0.0), ("real_audio_per_bitrate.tsv", 0.5), ("real_mixtures_per_bitrate.tsv", 0.3)):
        per_bitrate = {str(b): {"restored": {"sdr": 8 + b / 10, "si_snr": 8 + b / 10, "visqol": 2 + b / 80 - shift, "lsd": 1.6 - b / 200 + shift,
                                             "hf_err": 3 + shift},
                                "mp3": {"sdr": 8.2 + b / 10, "si_snr": 8.3 + b / 10, "visqol": 1.2 + b / 40, "lsd": 7 - b / 30 - shift,
                                        "hf_err": 30 - b / 10}}
                       for b in (24, 32, 48, 64, 96, 128)}  # fmt: skip
        (project / "data" / "eval").mkdir(parents=True, exist_ok=True)
        (project / "data" / "eval" / name).write_text(per_bitrate_tsv(per_bitrate))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_plots_page_renders_offline(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("dvc.yaml", "params.yaml", "apollo/paths.py"):  # dvc.yaml reads the last two as vars
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, project / name)
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=project, check=True)
    fake_outputs(project)
    subprocess.run([sys.executable, "-m", "apollo.plots", "--project", str(project)], check=True)
    page_file = project / "data" / "plots" / "index.html"

    plots = plot_definitions()
    requested, errors = [], []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})

        def only_files(route):
            if route.request.url.startswith("file://"):
                return route.continue_()
            requested.append(route.request.url)
            return route.abort()

        page.route("**/*", only_files)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(page_file.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.vega-embed svg.marks').length >= {len(plots)}", timeout=30_000)
        charts = page.eval_on_selector_all(".vega-embed", """els => els.map(e => {
            const svg = e.querySelector('svg.marks'), box = svg.getBoundingClientRect();
            return {id: e.closest('[id]').id, width: box.width, height: box.height,
                    lines: svg.querySelectorAll('path[aria-roledescription="line mark"], .mark-line path').length,
                    text: Array.from(svg.querySelectorAll('text')).map(t => t.textContent).join('\\n')};
        })""")
        page.screenshot(path=str(tmp_path / "plots.png"), full_page=True)

    assert requested == [] and errors == []
    assert [c["id"] for c in charts] == list(plots)
    for chart in charts:
        spec = plots[chart["id"]]
        assert chart["width"] > 200 and chart["height"] > 150, chart["id"]
        assert chart["lines"] >= sum(1 if isinstance(f, str) else len(f) for f in spec["y"].values()), chart["id"]
        for label in (spec["title"], spec["x_label"], spec["y_label"]):
            assert label in chart["text"], (chart["id"], label)
    assert (tmp_path / "plots.png").stat().st_size > 50_000


def test_a_folder_without_dvc_yaml_is_a_one_line_error(tmp_path):
    res = subprocess.run([sys.executable, "-m", "apollo.plots", "--project", str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 1 and res.stderr.strip() == f"error: {tmp_path}: not a DVC project (no dvc.yaml); pass --project"
    assert list(tmp_path.iterdir()) == []  # nothing written
