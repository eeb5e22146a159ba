"""A real Prefect server on a free loopback port: deploy prefect.yaml, check the schedule, run `retrain`."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.tiny_project import TINY_OVERRIDES, make_project

PREFECT = str(Path(sys.executable).parent / "prefect")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(url: str, path: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"},
                                     method="POST" if body is not None else "GET")  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def wait_for(check, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_server_deploys_schedules_and_runs_retrain(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "home"), PREFECT_API_URL=url,
               PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false")  # fmt: skip
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    worker = None
    try:
        def healthy():
            try:
                return api(url, "/health") is True
            except OSError:
                return False

        wait_for(healthy, 120, "the server")
        project = make_project(tmp_path / "project")
        run = lambda *cmd: subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=300)  # noqa: E731
        created = run(PREFECT, "work-pool", "create", "apollo-process", "--type", "process")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = run(PREFECT, "--no-prompt", "deploy", "--all")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr

        retrain = api(url, "/deployments/name/pipeline/retrain")
        assert [s["schedule"]["cron"] for s in retrain["schedules"]] == ["0 3 * * 1"]
        assert api(url, "/deployments/name/build-shards/build-shards")["entrypoint"] == "flows/shards.py:build_shards"

        flow_run = api(url, f"/deployments/{retrain['id']}/create_flow_run", {"parameters": {"overrides": TINY_OVERRIDES}})
        worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "apollo-process"], cwd=project, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        final = wait_for(lambda: (s := api(url, f"/flow_runs/{flow_run['id']}")["state"])["type"] in
                         ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") and s, 900, "the retrain run")  # fmt: skip
        assert final["type"] == "COMPLETED", (tmp_path / "server.log").read_text()[-3000:]
        assert (project / "data" / "eval" / "metrics.json").is_file()
    finally:
        for proc in (worker, server):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        log.close()
