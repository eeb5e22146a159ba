"""`apollo app` as a user meets it: the real server, driven in Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import lameenc
import numpy as np
import pytest
import soundfile as sf

from apollo.audio.io import open_at_rate, probe
from apollo.app import AppError, checkpoint_for, draw_spectrograms, plain, restore_upload
from apollo.checkpoint import save_generator
from apollo.errors import ApolloError
from apollo.params import SR
from tests.helpers.audio import write_tone
from tests.helpers.live import chromium, free_port, wait_for
from tests.helpers.params import tiny_model


def write_mp3(path: Path, seconds: float, kbps: int = 64) -> None:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(0)
    audio = 0.2 * np.sin(2 * np.pi * 330 * t)[:, None] + 0.05 * rng.standard_normal((len(t), 2))
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(SR)
    encoder.set_channels(2)
    encoder.set_quality(2)
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    path.write_bytes(encoder.encode(pcm.tobytes()) + encoder.flush())


def test_spectrograms_find_the_codec_cutoff_of_an_mp3_and_none_in_full_band(tmp_path):
    cutoffs = []
    for kbps in (32, 64, 128):  # LAME low-passes, and below 64 kbps stereo also lowers the rate
        write_mp3(tmp_path / "in.mp3", seconds=3.0, kbps=kbps)
        decoded, _ = open_at_rate(probe(tmp_path / "in.mp3"), SR, tmp_path)
        cutoffs.append(draw_spectrograms(decoded, decoded, tmp_path / "mp3.png", title="in.mp3"))
    assert None not in cutoffs and cutoffs == sorted(cutoffs) and 3_000 < cutoffs[0] and cutoffs[-1] < 20_000, cutoffs
    full = tmp_path / "noise.wav"
    sf.write(str(full), 0.1 * np.random.default_rng(1).standard_normal((3 * SR, 2)), SR)
    assert draw_spectrograms(full, full, tmp_path / "full.png", title="noise") is None
    assert (tmp_path / "mp3.png").stat().st_size > 10_000


def test_checkpoint_choices_are_checked(tmp_path):
    with pytest.raises(AppError, match="give the checkpoint's path"):
        checkpoint_for("local file", " ")
    with pytest.raises(AppError, match="checkpoint not found"):
        checkpoint_for("local file", str(tmp_path / "nope.safetensors"))
    with pytest.raises(Exception, match="hf://OWNER/REPO/FILE"):
        checkpoint_for("hub", "just-a-name")


@contextmanager
def app_server(tmp_path: Path, *args: str):
    port = free_port()
    log = open(tmp_path / "app.log", "w")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TMPDIR=str(tmp_path))
    server = subprocess.Popen([sys.executable, "-m", "apollo", "app", "--port", str(port), *args],
                              stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)  # fmt: skip

    def up():
        assert server.poll() is None, (tmp_path / "app.log").read_text()
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).status == 200
        except OSError:
            return False

    try:
        wait_for(up, 90, "the app to serve", every=0.5)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def audio_state(page, elem_id: str) -> tuple[str, float]:
    return page.eval_on_selector(f"#{elem_id} audio[src]", "a => [a.src, a.duration]")


def screenshot(page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("APOLLO_SCREENSHOTS"):  # a folder to keep them in, for a person to look at
        shutil.copy(path, Path(os.environ["APOLLO_SCREENSHOTS"]) / path.name)


@pytest.mark.slow
def test_upload_restore_play_and_a_bad_file_in_a_real_browser(tmp_path):
    ckpt = tmp_path / "tiny.safetensors"
    save_generator(tiny_model(), ckpt)
    song, other = tmp_path / "song.mp3", tmp_path / "other.wav"
    write_mp3(song, seconds=2.0)
    write_tone(other, seconds=1.0)
    (tmp_path / "notes.mp3").write_text("not audio at all\n" * 50)
    data, rate = sf.read(str(song))  # LAME lowers the rate at 64 kbps: the app resamples to 44.1 kHz
    seconds = len(data) / rate

    with app_server(tmp_path, "--checkpoint", str(ckpt)) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        outside = []
        page.on("request", lambda r: r.url.startswith(url) or r.url.startswith(("blob:", "data:")) or outside.append(r.url))
        page.goto(url)
        page.set_input_files("#inputs input[type=file]", [str(song), str(other)])
        page.wait_for_selector("#inputs [aria-label='other.wav']")  # uploaded
        page.click("#restore")
        page.wait_for_selector("#restored-audio audio[src]", state="attached", timeout=120_000)
        src, duration = wait_for(lambda: (s := audio_state(page, "restored-audio"))[1] == s[1] and s, 30, "metadata")
        assert abs(duration - seconds) < 0.002, (duration, seconds)
        assert audio_state(page, "input-audio")[1] == pytest.approx(duration, abs=0.05)
        assert page.inner_text("#status").strip() == f"restored 2 files with {ckpt}"
        assert "codec cutoff" in page.inner_text("#about")  # the MP3's low-pass, found and named
        for name in ("song.restored.wav", "other.restored.wav"):
            assert page.locator(f"#downloads [aria-label='{name}']").count() == 1, page.inner_text("#downloads")
        screenshot(page, tmp_path / "app.png")

        # the restored file the page serves is the whole song, at 44.1 kHz
        served = page.evaluate("async s => Array.from(new Uint8Array(await (await fetch(s)).arrayBuffer()))", src)
        (tmp_path / "served.wav").write_bytes(bytes(served))
        info = sf.info(str(tmp_path / "served.wav"))
        assert (info.samplerate, info.channels) == (SR, 2) and abs(info.frames / SR - seconds) < 0.001

        # a bad file: one line in the page, no stack trace, and the earlier results stay
        page.click("#inputs button[aria-label='Clear']")
        page.set_input_files("#inputs input[type=file]", [str(tmp_path / "notes.mp3")])
        page.wait_for_selector("#inputs [aria-label='notes.mp3']")
        page.click("#restore")
        page.wait_for_function("document.querySelector('#status').innerText.includes('not an audio file')")
        message = page.inner_text("#status").strip()
        assert message.startswith("error: notes.mp3: not an audio file") and len(message.splitlines()) == 1, message
        body = page.inner_text("body")
        assert "Traceback" not in body and 'File "' not in body
        screenshot(page, tmp_path / "error.png")
        assert page.locator("#downloads [aria-label='song.restored.wav']").count() == 1  # still there
        assert outside == []  # nothing but the app itself: the page works offline
    assert not list(tmp_path.glob("apollo-app-*")), "the app's temporary folder outlives it"


@pytest.mark.slow
def test_a_port_in_use_is_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = subprocess.run([sys.executable, "-m", "apollo", "app", "--port", str(port)], capture_output=True,
                             text=True, timeout=120, cwd=tmp_path, env=dict(os.environ, TMPDIR=str(tmp_path)))  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [f"error: cannot serve on 127.0.0.1:{port}: the port is in use"]
    assert not list(tmp_path.glob("apollo-app-*"))


def test_an_upload_browsers_cannot_play_gets_a_flac_preview_and_no_decoded_copy_is_kept(tmp_path):
    model = tiny_model()
    write_mp3(tmp_path / "song.mp3", seconds=1.0)  # decoded to a temporary (another rate, compressed)
    write_tone(tmp_path / "take.aiff", seconds=1.0, format="AIFF")
    mp3 = restore_upload(model, tmp_path / "song.mp3", tmp_path / "a", "wav", lambda f: None)
    assert mp3.original == str(tmp_path / "song.mp3")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["song.png", "song.restored.wav"]
    aiff = restore_upload(model, tmp_path / "take.aiff", tmp_path / "b", "flac", lambda f: None)
    assert Path(aiff.original).name == "take.input.flac" and sf.info(aiff.original).frames == SR
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["take.input.flac", "take.png", "take.restored.flac"]


def test_names_in_the_page_are_shown_as_they_are():
    assert plain("*take_2*.mp3 [live] <b>") == r"\*take\_2\*.mp3 \[live\] \<b\>"
    assert plain("a\x1b[31mred\x1b[0m") == "ared"  # no terminal escapes either


def test_a_failed_upload_leaves_nothing_behind(tmp_path):
    write_mp3(tmp_path / "whole.mp3", seconds=3.0, kbps=128)
    encoded = subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(tmp_path / "whole.mp3"), "-b:a", "128k",
                              str(tmp_path / "xing.mp3")])  # fmt: skip  (ffmpeg writes a Xing frame count)
    assert encoded.returncode == 0
    data = (tmp_path / "xing.mp3").read_bytes()
    (tmp_path / "cut.mp3").write_bytes(data[: len(data) // 2])
    with pytest.raises(ApolloError, match="truncated"):
        restore_upload(tiny_model(), tmp_path / "cut.mp3", tmp_path / "out", "wav", lambda f: None)
    assert not (tmp_path / "out").exists()
