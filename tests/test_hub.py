"""hf://OWNER/REPO/FILE[@REVISION] through huggingface_hub's real code path, with no hub: a prepared cache under
HF_HUB_OFFLINE=1, and a small server on 127.0.0.1 that answers as the hub does (HF_ENDPOINT)."""

import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading

import pytest

from apollo.checkpoint import save_generator
from tests.helpers.audio import write_tone
from tests.helpers.params import tiny_model

COMMIT = "a" * 40
OLD_COMMIT = "b" * 40


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("w") / "g.safetensors"
    save_generator(tiny_model(), path)
    return path.read_bytes()


def apollo(*args, env):
    return subprocess.run([sys.executable, "-m", "apollo", *map(str, args)], capture_output=True, text=True, env=env)


def hub_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    return env | {"HF_HOME": str(tmp_path / "hf")} | extra


def test_a_prepared_cache_offline(tmp_path, weights):
    # the hub cache's own layout: refs/<revision> names a snapshot folder holding the file
    repo = tmp_path / "hf" / "hub" / "models--someone--apollo-vocal"
    (repo / "snapshots" / COMMIT).mkdir(parents=True)
    (repo / "snapshots" / COMMIT / "model.safetensors").write_bytes(weights)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    write_tone(tmp_path / "in.wav", seconds=0.5)
    env = hub_env(tmp_path, HF_HUB_OFFLINE="1")
    res = apollo("restore", tmp_path / "in.wav", "-c", "hf://someone/apollo-vocal/model.safetensors", env=env)
    assert res.returncode == 0, res.stderr
    assert f"checkpoint: hf://someone/apollo-vocal/model.safetensors -> {repo / 'snapshots' / COMMIT / 'model.safetensors'}" in res.stderr
    assert (tmp_path / "in.restored.wav").is_file()
    missing = apollo("restore", tmp_path / "in.wav", "-c", "hf://someone/other/model.safetensors", "--overwrite", env=env)
    assert missing.returncode == 1 and missing.stderr.strip().splitlines() == [
        "error: hf://someone/other/model.safetensors: not in the hub cache and the hub is not reachable "
        "(offline, or HF_HUB_OFFLINE=1)"]  # fmt: skip


class FakeHub(http.server.BaseHTTPRequestHandler):
    """/<owner>/<repo>/resolve/<revision>/<file>, with the headers huggingface_hub reads."""

    files: dict = {}  # (repo, revision, file) -> (commit, bytes)
    requests: list = []

    def _find(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return None
        return self.files.get(("/".join(parts[:2]), parts[3], "/".join(parts[4:])))

    def _answer(self, body: bool):
        self.requests.append((self.command, self.path))
        found = self._find()
        if found is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        commit, data = found
        self.send_response(200)
        self.send_header("X-Repo-Commit", commit)
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self):
        self._answer(body=False)

    def do_GET(self):
        self._answer(body=True)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_hub(weights):
    FakeHub.files = {("someone/apollo-universal", "main", "universal.safetensors"): (COMMIT, weights),
                     ("someone/apollo-universal", "v1", "universal.safetensors"): (OLD_COMMIT, weights)}  # fmt: skip
    FakeHub.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_download_from_a_server_that_answers_as_the_hub(tmp_path, fake_hub):
    write_tone(tmp_path / "in.wav", seconds=0.5)
    env = hub_env(tmp_path, HF_ENDPOINT=fake_hub)
    res = apollo("restore", tmp_path / "in.wav", "-c", "hf://someone/apollo-universal/universal.safetensors@v1", env=env)
    assert res.returncode == 0, res.stderr
    cached = tmp_path / "hf" / "hub" / "models--someone--apollo-universal" / "snapshots" / OLD_COMMIT / "universal.safetensors"
    assert f"-> {cached} (commit {OLD_COMMIT[:12]})" in res.stderr and cached.is_file()  # the revision asked for
    assert ("GET", "/someone/apollo-universal/resolve/v1/universal.safetensors") in FakeHub.requests
    # downloaded once: offline now, the cache answers
    again = apollo("restore", tmp_path / "in.wav", "-c", "hf://someone/apollo-universal/universal.safetensors@v1",
                   "--overwrite", env=env | {"HF_HUB_OFFLINE": "1"})  # fmt: skip
    assert again.returncode == 0, again.stderr
    absent = apollo("restore", tmp_path / "in.wav", "-c", "hf://someone/apollo-universal/nope.ckpt", "--overwrite", env=env)
    assert absent.returncode == 1 and len(absent.stderr.strip().splitlines()) == 1, absent.stderr
    assert "nope.ckpt" in absent.stderr and "Traceback" not in absent.stderr
    bad = apollo("restore", tmp_path / "in.wav", "-c", "hf://only-owner", "--overwrite", env=env)
    assert bad.stderr.strip() == "error: hf://only-owner: a hub checkpoint is hf://OWNER/REPO/FILE[@REVISION]"
    shutil.rmtree(tmp_path / "hf")
