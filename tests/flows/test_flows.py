import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from apollo.data.loader import make_loader
from apollo.data.sad import build_index, write_index
from apollo.data.shards import write_all
from apollo.config import layer, load_params, read_raw
from tests.helpers.params import section
from tests.helpers.tiny_project import ROOT, make_project

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.tar"))}


@pytest.fixture
def small_project(stem_folder, tmp_path) -> Path:
    """params.yaml whose shards section reads a SAD index of the test stems."""
    index = build_index(section("sources", kind="folder", root=str(stem_folder)), section("sad.detection"), workers=1)
    write_index(index, tmp_path / "sad")
    params = layer(read_raw(ROOT / "params.yaml"), {
        "sad": {"out": str(tmp_path / "sad")},
        "shards": {"out": str(tmp_path / "stage"), "samples": {"train": 6, "val": 2, "test": 2},
                   "samples_per_shard": 2, "seconds": 0.5, "workers": 1}})  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


@pytest.mark.parametrize("runner", ["threads", "processes", "dask"])
def test_shards_flow_is_byte_identical_to_the_stage(small_project, runner):
    from flows.shards import build_shards

    write_all(load_params(small_project / "params.yaml").shard_params())  # what the DVC stage runs
    summary = build_shards(project=str(small_project), out=str(small_project / "flow"), runner=runner, workers=2)
    assert summary["splits"]["train"]["shards"] == 3
    stage, flow = digests(small_project / "stage"), digests(small_project / "flow")
    assert len(stage) == 5 and stage == flow
    summary = (small_project / "stage" / "summary.json").read_bytes()
    assert summary == (small_project / "flow" / "summary.json").read_bytes()  # no absolute paths in either
    assert str(small_project).encode() not in summary


def test_a_smaller_rerun_leaves_no_stale_shards(small_project):
    from flows.shards import build_shards

    build_shards(project=str(small_project), runner="threads", workers=1)
    params = yaml.safe_load((small_project / "params.yaml").read_text())
    params["shards"]["samples"] = {"train": 2, "val": 2, "test": 2}
    (small_project / "params.yaml").write_text(yaml.safe_dump(params))
    build_shards(project=str(small_project), runner="threads", workers=1)
    assert [p.name for p in (small_project / "stage" / "train").glob("*.tar")] == ["shard-000000.tar"]
    loaded = sum(len(d) for d, _ in make_loader(str(small_project / "stage" / "train"), batch_size=1, crop_samples=4410))
    assert loaded == 2


def test_shards_go_to_object_storage_and_train_from_there(small_project):
    import fsspec

    from flows.shards import build_shards

    url = "memory://apollo-test/shards"  # any fsspec URL: s3://, gs://, ...
    build_shards(project=str(small_project), out=url, runner="threads", workers=1)
    fs = fsspec.filesystem("memory")
    assert fs.exists("/apollo-test/shards/summary.json") and len(fs.glob("/apollo-test/shards/train/*.tar")) == 3
    degraded, target = next(iter(make_loader(f"{url}/train", batch_size=2, crop_samples=4410)))
    assert degraded.shape == target.shape == (2, 2, 4410)


def test_params_overrides_are_validated_before_writing(tmp_path):
    from apollo.config import ConfigError
    from apollo.pipeline import set_params

    project = make_project(tmp_path / "project")
    before = (project / "params.yaml").read_text()
    with pytest.raises(ConfigError, match="unknown key"):
        set_params(project, overrides=["train.stepz=3"])
    assert (project / "params.yaml").read_text() == before
    params = set_params(project, overrides=["train.steps=3"])
    reread = load_params(project / "params.yaml")  # as the stages read it (PyYAML)
    assert params == reread and reread.train.steps == 3
    assert "# the step budget" in (project / "params.yaml").read_text()  # comments survive


def test_the_flow_takes_a_profile_as_its_params_file():
    from apollo.experiments import set_param_args
    from flows.pipeline import validated

    workspace, target, params = validated(ROOT, "profiles/paper.yaml", ["train.steps=7"])
    assert params.model.feature_dim == 256 and params.train.steps == 7  # the profile, then the overrides
    assert params.evaluate == load_params(ROOT / "params.yaml").evaluate  # the rest: params.yaml's
    args = set_param_args(workspace, target)
    assert "++model.feature_dim=256" in args and not any("evaluate." in a for a in args)  # only what differs


@pytest.mark.slow
@pytest.mark.parametrize("script, args, message", [
    ("flows/pipeline.py", ["--overrides", "train.stepz=3"], "unknown key(s) in 'train': stepz"),
    ("flows/shards.py", ["--params-file", "missing.yaml"], "cannot read missing.yaml"),
])  # fmt: skip
def test_flow_scripts_report_bad_params_in_one_line(tmp_path, script, args, message):
    project = make_project(tmp_path / "project")
    before = (project / "params.yaml").read_text()
    res = subprocess.run([sys.executable, script, *args], cwd=project, capture_output=True, text=True)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [res.stderr.strip()] and message in res.stderr, res.stderr
    assert (project / "params.yaml").read_text() == before and not (project / "data" / "shards").exists()
