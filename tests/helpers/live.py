"""Live services the end-to-end tests drive: a Prefect server on a free loopback port, headless Chromium."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

PREFECT = str(Path(sys.executable).parent / "prefect")
CHROMIUM = Path("/usr/bin/chromium")  # Debian's, installed by scripts/setup.sh (Playwright cannot fetch its own here)
# without the background-networking flags Chromium keeps calling Google's hosts, which this closed network refuses
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(url: str, body: dict | None = None):
    """GET `url`, or POST `body` as JSON; the decoded answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def wait_for(check, timeout: float, what: str, every: float = 1.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def prefect_server(folder: Path, **settings: str):
    """`prefect server start` on a free loopback port with its own home and database in `folder`.

    Yields (base URL, the environment that points clients at it); its log is folder/server.log."""
    base = f"http://127.0.0.1:{free_port()}"
    env = dict(os.environ, PREFECT_HOME=str(folder / "home"), PREFECT_API_URL=f"{base}/api",
               PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{folder / 'prefect.db'}",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", **settings)  # fmt: skip
    with open(folder / "server.log", "w") as log:
        server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", base.rsplit(":", 1)[1]],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            def healthy():  # noqa: E306
                assert server.poll() is None, (folder / "server.log").read_text()[-2000:]
                try:
                    return api(f"{base}/api/health") is True
                except OSError:
                    return False

            wait_for(healthy, 120, "the Prefect server", every=0.5)
            yield base, env
        finally:
            stop(server)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def chromium():
    """A headless Debian Chromium under Playwright."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), f"{CHROMIUM} missing: scripts/setup.sh installs Debian's chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
