"""A real Prefect server on a free loopback port whose own services act: the scheduler creates the runs,
a worker picks them up, nobody calls `deployment run`."""

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from apollo.pipeline import set_params
from tests.helpers.live import PREFECT, api, prefect_server, stop, wait_for
from tests.helpers.tiny_project import TINY, commit, make_project

FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def runs_of(url: str, deployment_id: str) -> list[dict]:
    return api(f"{url}/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}, "limit": 50})


def next_mondays_3am(count: int) -> list[dt.datetime]:
    now = dt.datetime.now(dt.timezone.utc)
    first = (now + dt.timedelta(days=(7 - now.weekday()) % 7)).replace(hour=3, minute=0, second=0, microsecond=0)
    first = first if first > now else first + dt.timedelta(days=7)
    return [first + dt.timedelta(weeks=k) for k in range(count)]


def add_test_deployment(project: Path) -> None:
    """A deployment of the same flow due in a few seconds (hourly): a plain retrain of the tiny params."""
    config = yaml.safe_load((project / "prefect.yaml").read_text())
    # the scheduler makes runs strictly after now: anchor the hourly schedule so one falls due shortly
    anchor = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30) - dt.timedelta(hours=1)
    schedule = {"interval": 3600, "anchor_date": anchor.isoformat(), "timezone": "UTC"}
    config["deployments"].append({"name": "due-now", "entrypoint": "flows/pipeline.py:pipeline", "parameters": {},
                                  "work_pool": {"name": "apollo-process"}, "schedules": [schedule]})  # fmt: skip
    (project / "prefect.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.mark.slow
def test_the_scheduler_creates_runs_and_a_worker_completes_them(tmp_path):
    settings = {"PREFECT_UI_ENABLED": "false", "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
                "PREFECT_WORKER_QUERY_SECONDS": "2"}  # fmt: skip
    worker_log = tmp_path / "worker.log"
    with prefect_server(tmp_path, **settings) as (base, env):
        url = f"{base}/api"
        project = make_project(tmp_path / "project")
        set_params(project, profile=TINY)
        add_test_deployment(project)
        commit(project, "tiny params, a deployment due now")
        run = lambda *cmd: subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=300)  # noqa: E731
        created = run(PREFECT, "work-pool", "create", "apollo-process", "--type", "process")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = run(PREFECT, "--no-prompt", "deploy", "--all")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr

        # the weekly retrain: the scheduler service itself creates its next runs, at the cron's times
        retrain = api(f"{url}/deployments/name/pipeline/retrain")
        assert [s["schedule"]["cron"] for s in retrain["schedules"]] == ["0 3 * * 1"]
        scheduled = wait_for(lambda: len(r := runs_of(url, retrain["id"])) >= 3 and r, 60, "scheduled retrain runs")
        times = sorted(dt.datetime.fromisoformat(r["expected_start_time"].replace("Z", "+00:00")) for r in scheduled)
        assert times[:3] == next_mondays_3am(3)
        assert all(r["state"]["type"] == "SCHEDULED" and r["auto_scheduled"] for r in scheduled)

        # a deployment due now: the scheduler makes the run, the worker runs it, it completes
        due = api(f"{url}/deployments/name/pipeline/due-now")
        worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "apollo-process"], cwd=project, env=env,
                                  stdout=worker_log.open("w"), stderr=subprocess.STDOUT)  # fmt: skip
        try:
            def finished():  # noqa: E306
                return next((r for r in runs_of(url, due["id"]) if r["state"]["type"] in FINAL), None)

            done = wait_for(finished, 600, "the scheduled run")
        finally:
            stop(worker)
        assert done["state"]["type"] == "COMPLETED", worker_log.read_text()[-3000:]
        assert done["auto_scheduled"]  # made by the scheduler, not by `deployment run`
        assert done["name"].startswith("retrain-")  # the run is named after its DVC experiment
        shown = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], cwd=project, capture_output=True, text=True)
        assert done["name"] in shown.stdout  # listed by dvc exp show
        assert (project / "data/eval/metrics.json").is_file()  # a plain retrain of an empty workspace: promoted
    server_log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in server_log, server_log[-3000:]
