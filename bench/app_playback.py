"""Seconds from pressing Restore in `apollo app` to the restored song being playable, in headless Chromium.

A 30 s song (a real recorded loop from sonic-pi-samples, tiled, as a 128 kbps MP3) is uploaded; the clock
starts at the click and stops when the restored player's audio has its duration (the page can play it).
Also printed: the same restore through `apollo restore`, the floor the page adds to.
Usage: python bench/app_playback.py [--checkpoint FILE] [--seconds 30] [--runs 3]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import lameenc
import numpy as np
import soundfile as sf

LOOP = Path("/usr/share/sonic-pi/samples/loop_amen_full.flac")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def song(path: Path, seconds: float) -> None:
    loop, rate = sf.read(str(LOOP), always_2d=True)
    audio = np.tile(loop, (int(np.ceil(seconds * rate / len(loop))), 1))[: int(seconds * rate)]
    audio = np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(128)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(2)
    encoder.set_quality(2)
    path.write_bytes(encoder.encode((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()) + encoder.flush())


def serve(port: int, checkpoint: str | None, folder: Path) -> subprocess.Popen:
    extra = ["--checkpoint", checkpoint] if checkpoint else []
    server = subprocess.Popen([sys.executable, "-m", "apollo", "app", "--port", str(port), *extra],
                              stdout=subprocess.DEVNULL, stderr=open(folder / "app.log", "w"))  # fmt: skip
    for _ in range(180):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the app did not start: {(folder / 'app.log').read_text()[-2000:]}")


def sources(page) -> dict[str, float]:
    """The restored player's audio sources and their durations (Playwright's selectors reach into the
    player's shadow DOM, where its <audio> lives)."""
    pairs = page.eval_on_selector_all("#restored-audio audio[src]", "els => els.map(a => [a.src, a.duration || 0])")
    return dict(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the pipeline's model (run `make repro` first)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mp3 = folder / "song.mp3"
        song(mp3, args.seconds)
        cli = [sys.executable, "-m", "apollo", "restore", str(mp3), "-o", str(folder / "cli.wav"), "--overwrite"]
        cli += ["--checkpoint", args.checkpoint] if args.checkpoint else []
        start = time.perf_counter()
        done = subprocess.run(cli, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(done.stderr.strip())
        print(f"apollo restore, {args.seconds:.0f} s song (process start included): {time.perf_counter() - start:.2f} s")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = serve(port, args.checkpoint, folder)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/")
                page.set_input_files("#inputs input[type=file]", [str(mp3)])
                page.wait_for_selector("#inputs [aria-label='song.mp3']")
                times = []
                for run in range(args.runs):  # the first run also loads the model
                    before = sources(page)
                    start = time.perf_counter()
                    page.click("#restore")
                    # a new result (its own src) whose length the player knows: it can play
                    while not any(src not in before and duration > 0 for src, duration in sources(page).items()):
                        if time.perf_counter() - start > 600 or page.inner_text("#status").startswith("error"):
                            raise SystemExit(f"no playable result; the page says: {page.inner_text('#status')}")
                        page.wait_for_timeout(20)
                    times.append(time.perf_counter() - start)
                    print(f"run {run + 1}: pressing Restore to a playable restored song: {times[-1]:.2f} s")
                browser.close()
        finally:
            server.terminate()
            server.wait(30)
    print(f"median over {len(times)} runs: {sorted(times)[len(times) // 2]:.2f} s for a {args.seconds:.0f} s song")


if __name__ == "__main__":
    main()
