"""The evaluation report as a Prefect markdown artifact: its images travel inside the text, and the UI shows them."""

import base64
from pathlib import Path

import numpy as np
import pytest

from apollo.report import artifact_markdown
from tests.helpers.live import api, chromium, prefect_server


def png(path: Path, height: int = 20, width: int = 30) -> bytes:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, np.linspace(0, 1, height * width).reshape(height, width), cmap="magma")
    return path.read_bytes()


def report_folder(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path / "eval"
    images = {"per_bitrate.png": png(out / "per_bitrate.png", 60, 140),
              "examples/a@24.png": png(out / "examples" / "a@24.png", 40, 120)}  # fmt: skip
    (out / "report.md").write_text(
        "# Apollo evaluation\n\n| kbps | LSD |\n|---|---|\n| 24 | 1.5 / 6.8 |\n\n## Figures\n\n"
        "![metrics against bitrate](per_bitrate.png)\n\n![a@24](examples/a@24.png)\n"
    )
    return out, images


def test_artifact_markdown_inlines_the_report_images(tmp_path):
    out, images = report_folder(tmp_path)
    png(tmp_path / "outside.png")
    (out / "big.png").write_bytes(b"\x89PNG" + bytes(2000))
    (out / "report.md").write_text((out / "report.md").read_text() + "\n![gone](examples/gone.png)\n"
                                   "![web](https://example.org/x.png)\n![up](../outside.png)\n![big](big.png)\n")  # fmt: skip
    text = artifact_markdown(out, max_image_bytes=1500)
    assert "| 24 | 1.5 / 6.8 |" in text and text.startswith("# Apollo evaluation")
    for alt, name in (("metrics against bitrate", "per_bitrate.png"), ("a@24", "examples/a@24.png")):
        start = text.index(f"![{alt}](data:image/png;base64,") + len(f"![{alt}](data:image/png;base64,")
        assert base64.b64decode(text[start : text.index(")", start)]) == images[name]
    assert "](per_bitrate.png)" not in text and "](examples/a@24.png)" not in text
    assert "*[image not embedded: gone (examples/gone.png)]*" in text  # missing
    assert "![web](https://example.org/x.png)" in text  # already absolute: left as written
    assert "*[image not embedded: up (../outside.png)]*" in text  # outside the report folder
    assert "*[image not embedded: big (big.png)]*" in text  # over the size limit


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_prefect_ui_shows_the_embedded_images(tmp_path):
    """A real server and its UI in headless Chromium: the images have pixels (a relative link shows none)."""
    out, images = report_folder(tmp_path)
    with prefect_server(tmp_path) as (base, _):
        # what create_markdown_artifact sends (flows/pipeline.py calls it with this text)
        artifact = api(f"{base}/api/artifacts/", {"key": "evaluation-report", "type": "markdown",
                                                   "data": artifact_markdown(out), "description": "report.md"})  # fmt: skip
        shown = {}
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith((base, "data:")) else r.abort())
            for ui in ("", "/v2"):  # the default UI and the one its "Switch to V2 UI" opens
                page.goto(f"{base}{ui}/artifacts/artifact/{artifact['id']}")
                page.wait_for_function("Array.from(document.images).filter("
                                       "i => i.src.startsWith('data:image/png') && i.complete).length >= 2", timeout=60_000)  # fmt: skip
                shown[ui or "/"] = page.eval_on_selector_all(
                    "img[src^='data:image/png']", "els => els.map(e => [e.alt, e.naturalWidth, e.naturalHeight])"
                )
                page.screenshot(path=str(tmp_path / f"artifact{ui.replace('/', '-')}.png"), full_page=True)
    for ui, imgs in shown.items():
        assert sorted(imgs) == [["a@24", 120, 40], ["metrics against bitrate", 140, 60]], ui
