import dataclasses
import json
import random
import weakref
from functools import reduce

import numpy as np
import pytest
import torch
import yaml

from apollo import evaluate as evaluation
from apollo.audio.codec import degrade
from apollo.checkpoint import load_generator, save_generator
from apollo.config import PROJECT, read_raw
from apollo.data.shards import write_all
from apollo.evaluate import (EvaluationError, Mixing, evaluate_checkpoint, mixture_pairs, pick_dark_bright,
                             pick_examples, real_audio_pairs, report_set, score_pair, summarise, synthetic_pairs,
                             trained_recordings, visqol)  # fmt: skip
from apollo.metrics import si_snr
from apollo.models.apollo import Apollo
from apollo.params import ShardParams
from apollo.restore import restore_array
from tests.helpers.audio import noise, write
from tests.helpers.data import folder_index
from tests.helpers.params import model_config, section


def row(bitrate, category, restored, mp3):
    return {"key": "k", "bitrate": bitrate, "bitrate_actual": max(bitrate, 32), "category": category,
            "restored": {"lsd": restored}, "mp3": {"lsd": mp3}}  # fmt: skip


def test_summarise_groups_and_averages():
    rows = [row(24, "vocal", 1.0, 2.0), row(24, "multi-stem", 3.0, 4.0), row(128, "vocal", 0.5, 0.25)]
    by_rate = summarise(rows, "bitrate")
    assert list(by_rate) == ["24", "128"]  # numeric order, string keys for JSON
    assert by_rate["24"] == {"n": 2, "bitrate_actual": [32], "restored": {"lsd": 2.0}, "mp3": {"lsd": 3.0}}
    assert summarise(rows, "category")["vocal"]["mp3"] == {"lsd": 1.125}


def tones(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * 44100)) / 44100
    return np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.1 * np.sin(2 * np.pi * 3000 * t)], 1).astype(np.float32)


def test_real_audio_pairs_are_aligned_and_skip_short_files(tmp_path):
    write(tmp_path / "long.flac", tones(3.5))
    write(tmp_path / "short.flac", noise(1.0, seed=2) * 0.3)  # shorter than a clip: left out
    pairs = list(real_audio_pairs(tmp_path, clips=4, seconds=3.0, bitrates=(24, 128)))
    assert [p["key"] for p in pairs] == ["long@24", "long@128"]
    assert [p["bitrate_actual"] for p in pairs] == [32, 128]
    for p in pairs:
        assert p["target"].shape == p["degraded"].shape == (2, 3 * 44100)
        assert max(np.abs(p["target"]).max(), np.abs(p["degraded"]).max()) == pytest.approx(1.0)
    assert si_snr(pairs[1]["target"], pairs[1]["degraded"]) > 30  # aligned: no codec delay left
    with pytest.raises(EvaluationError, match="at least 5.0 s"):  # on the call, before any pair is read
        real_audio_pairs(tmp_path, clips=4, seconds=5.0, bitrates=(64,))


@pytest.mark.slow
def test_visqol_ranks_clean_above_degraded():
    clean = (tones(3.0) + noise(3.0, seed=3) * 0.3).T  # tones over broadband noise
    coarse, _, _ = degrade(clean.T.copy(), 44100, "mp3", 32)
    assert visqol(clean, clean) > 4.5
    assert visqol(clean, clean) > visqol(clean, coarse.T) + 0.3
    with pytest.raises(EvaluationError, match="ViSQOL cannot score"):
        visqol(clean[:, :2000], clean[:, :2000])


def tiny_generator(path, residual: bool) -> str:
    """Feature_dim 16, one block, seeded: with `residual` it starts as the identity."""
    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_generator(Apollo(model_config("paper", feature_dim=16, layers=1, residual=residual)), path)
    return str(path)


def real_folder(tmp_path):
    write(tmp_path / "real" / "loop.flac", noise(1.0, seed=5) * 0.3)
    return str(tmp_path / "real")


def eval_params(tmp_path, **changes):
    """params.yaml's evaluation, fast: no ViSQOL, a 1 s real-audio clip at two bitrates, no real mixtures."""
    changes = {"recordings": "", "real_mixtures": ""} | changes
    return section("evaluate", out=str(tmp_path / "eval"), visqol=False, real_audio=real_folder(tmp_path), real_clips=2,
                   real_seconds=1.0, real_bitrates=(32, 64), **changes)  # fmt: skip


def test_identity_generator_scores_like_the_mp3_and_the_report_is_written(shards, tmp_path):
    checkpoint = tiny_generator(tmp_path / "identity.safetensors", residual=True)
    params = eval_params(tmp_path, examples=2)
    result = evaluate_checkpoint(checkpoint, f"{shards}/test", params)
    sets = result["sets"]
    assert list(sets) == ["synthetic", "real_audio"] and [b["samples"] for b in sets.values()] == [2, 2]
    for block in sets.values():
        restored, mp3 = block["overall"]["restored"], block["overall"]["mp3"]
        assert set(restored) == {"sdr", "si_snr", "lsd", "hf_err"}
        assert restored["si_snr"] == pytest.approx(mp3["si_snr"], abs=0.05)
        assert restored["lsd"] == pytest.approx(mp3["lsd"], abs=0.05)
    assert set(sets["synthetic"]["per_category"]) <= {"vocal", "single stem", "multi-stem", "multi-stem + vocal"}
    assert set(sets["synthetic"]) == set(sets["real_audio"]) | {"per_category"}  # one shape for every set
    out = tmp_path / "eval"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert numbers_only(saved)  # DVC metrics: the methods' text is in report.md
    tsv = (out / "real_audio_per_bitrate.tsv").read_text().splitlines()
    assert tsv[0].split("\t")[:3] == ["bitrate", "sdr_restored", "sdr_mp3"] and [r.split("\t")[0] for r in tsv[1:]] == ["32", "64"]
    assert (out / "per_bitrate.tsv").read_text().splitlines()[0] == tsv[0]
    assert (out / "per_bitrate.png").stat().st_size > 1000
    assert len(list((out / "examples").glob("*.png"))) == 3  # 2 synthetic; the one real clip is darkest and brightest
    report = (out / "report.md").read_text()
    assert f"## Real recordings ({tmp_path / 'real'})" in report and "sonic-pi" not in report and "](examples/" in report
    assert "Samples: 2 synthetic, 2 real audio." in report and "LSD: 2048-point Hann" in report and "ViSQOL: off" in report


def test_without_the_real_set_every_declared_output_is_still_written(shards, tmp_path):
    params = dataclasses.replace(eval_params(tmp_path, examples=1), real_audio="")
    result = evaluate_checkpoint(tiny_generator(tmp_path / "g.safetensors", residual=True), f"{shards}/test", params)
    assert list(result["sets"]) == ["synthetic"]
    assert (tmp_path / "eval" / "real_audio_per_bitrate.tsv").read_text() == "bitrate\n"  # dvc.yaml declares it


@pytest.fixture
def test_split(stem_folder, tmp_path) -> str:
    """Six test samples in three shards: more than the examples drawn plus the one being scored."""
    shards = section("shards", out=str(tmp_path / "shards"), samples={"train": 1, "val": 1, "test": 6},
                     samples_per_shard=2, seconds=0.5, workers=1)  # fmt: skip
    write_all(ShardParams(index=folder_index(stem_folder, tmp_path / "sad"), **shards.__dict__))
    return f"{shards.out}/test"


def test_evaluation_holds_only_the_examples_and_scores_as_all_pairs_at_once(test_split, tmp_path, monkeypatch):
    checkpoint = tiny_generator(tmp_path / "random.safetensors", residual=False)  # restored != degraded
    params = eval_params(tmp_path, examples=2)
    alive, held = [], []  # weak references to the targets read so far; how many live as each new one is read

    def watched(*args):
        for pair in synthetic_pairs(*args):
            held.append(sum(ref() is not None for ref in alive))
            alive.append(weakref.ref(pair["target"]))
            yield pair

    monkeypatch.setattr(evaluation, "synthetic_pairs", watched)
    result = evaluate_checkpoint(checkpoint, test_split, params)
    assert len(held) == 6
    assert max(held) <= params.examples + 1  # the examples kept, and the pair the loop still names

    # what the evaluation computed before it streamed: every pair in memory, restored, then scored
    generator = load_generator(checkpoint).eval()

    def all_at_once(pairs):
        pairs = list(pairs)
        with torch.inference_mode():
            for pair in pairs:
                pair["restored"] = restore_array(generator, pair["degraded"].T, params.chunk_seconds).T
        return pairs, [score_pair(pair, params.visqol) for pair in pairs]

    synthetic, rows = all_at_once(synthetic_pairs(test_split))
    real, real_rows = all_at_once(real_audio_pairs(params.real_audio, params.real_clips, params.real_seconds,
                                                   params.real_bitrates))  # fmt: skip
    assert result == {"sets": {"synthetic": report_set(rows), "real_audio": report_set(real_rows, categories=False)}}
    drawn = sorted(p.stem for p in (tmp_path / "eval" / "examples").glob("*.png"))
    assert drawn == sorted(p["key"] for p in pick_examples(synthetic, params.examples) + pick_dark_bright(real, 2))


def test_picking_examples_while_streaming_equals_picking_from_all():
    rng = random.Random(0)
    for trial in range(300):
        pairs = [{"key": f"{i:03d}", "bitrate": rng.choice((24, 32, 64, 128)), "category": rng.choice("abcd")}
                 for i in rng.sample(range(100), rng.randint(0, 12))]  # fmt: skip
        count = rng.randint(0, 5)
        streamed = reduce(lambda kept, pair: pick_examples(kept + [pair], count), pairs, [])
        assert streamed == pick_examples(pairs, count), (trial, pairs, count)


def test_apollo_evaluate_scores_as_the_stage(shards, tmp_path, monkeypatch):
    """With no option over a setting, `apollo evaluate` scores what `dvc repro evaluate` scores."""
    from typer.testing import CliRunner

    from apollo.cli import app
    from stages.evaluate import main as stage

    raw = read_raw(PROJECT / "params.yaml")
    raw["train"]["out"], raw["shards"]["out"] = "train", "shards"  # relative: the project is tmp_path
    raw["evaluate"].update(out="eval", visqol=False, real_audio="real", real_clips=2, real_seconds=1.0,
                           real_bitrates=[32, 64], examples=1, max_samples=0, recordings="",
                           real_mixtures="heldout", real_mixture_samples=3)  # fmt: skip
    raw["shards"]["seconds"] = 0.5
    for s in range(2):  # two held-out songs: mixed as the shards stage mixes
        write(tmp_path / "heldout" / f"song{s}" / "drums.flac", noise(7, 20 + s) * 0.2)
        write(tmp_path / "heldout" / f"song{s}" / "bass.flac", noise(7, 30 + s) * 0.2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    tiny_generator(tmp_path / "train" / "generator.safetensors", residual=False)
    real_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    stage()
    # the device is no setting of params.yaml; the stage runs on the CPU
    res = CliRunner().invoke(app, ["evaluate", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "synthetic restored: sdr" in res.output and "real_audio restored: sdr" in res.output
    cli, dvc = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("eval-generator", "eval"))
    assert cli == dvc and cli["sets"]["real_audio"]["samples"] == 2 and cli["sets"]["real_mixtures"]["samples"] == 3


def numbers_only(tree) -> bool:
    if isinstance(tree, dict):
        return all(numbers_only(v) for v in tree.values())
    if isinstance(tree, list):
        return all(numbers_only(v) for v in tree)
    return isinstance(tree, (int, float)) and not isinstance(tree, bool)


def test_examples_prefer_low_bitrates_and_distinct_categories():
    audio = np.zeros((2, 10), np.float32)
    pairs = [{"key": k, "bitrate": b, "category": c, "target": audio} for k, b, c in
             [("a", 128, "vocal"), ("b", 24, "vocal"), ("c", 24, "vocal"), ("d", 64, "multi-stem"), ("e", 32, "vocal")]]  # fmt: skip
    assert [p["key"] for p in pick_examples(pairs, 3)] == ["b", "d", "c"]


def test_recordings_the_corpus_trains_on_are_never_scored(tmp_path):
    write(tmp_path / "real" / "a.flac", tones(1.5))
    write(tmp_path / "real" / "b.flac", tones(1.5) * 0.5)
    listing = tmp_path / "recordings.json"
    listing.write_text(json.dumps({"train": [str(tmp_path / "real" / "a.flac")], "heldout": [str(tmp_path / "real" / "b.flac")]}))
    exclude = trained_recordings(listing)
    keys = {p["key"] for p in real_audio_pairs(tmp_path / "real", 4, 1.0, (64,), exclude)}
    assert keys == {"b@64"}
    with pytest.raises(EvaluationError, match="no list"):
        trained_recordings(tmp_path / "missing.json")


def test_real_mixtures_are_mixed_as_the_shards_are(stem_folder):
    """The held-out songs' stems, 1-8 of them at +-gain_db, encoded at the shards' bitrates: the recipe of the
    shards stage itself, so the same (seed, index) gives the same mixture every run."""
    shards = section("shards", seconds=0.5, min_stems=2, max_stems=3)
    sad = section("sad").detection
    first, again = (list(mixture_pairs(stem_folder, shards, sad, 6)) for _ in range(2))
    assert len(first) == 6 and [p["key"] for p in first] == [f"mix-{i:04d}" for i in range(6)]
    for a, b in zip(first, again):
        assert np.array_equal(a["target"], b["target"]) and a["bitrate"] == b["bitrate"]
        assert a["target"].shape == a["degraded"].shape == (2, int(0.5 * 44100))
        assert a["bitrate"] in shards.bitrates and a["category"] in {"multi-stem", "multi-stem + vocal"}
    assert len({p["target"].tobytes() for p in first}) == 6
    with pytest.raises(EvaluationError, match="no held-out songs"):
        list(mixture_pairs(stem_folder / "nothing", shards, sad, 2))


def test_high_band_error_is_zero_for_the_original_and_large_for_the_mp3():
    from apollo.metrics import high_band_edge, high_band_level_error

    clean = (noise(3.0, seed=7) * 0.3).T
    mp3, _, _ = degrade(clean.T.copy(), 44100, "mp3", 64)
    edge = high_band_edge(mp3.T, 44100)
    assert 10000 < edge < 19000  # LAME's low-pass at 64 kbps
    assert high_band_level_error(clean, clean, edge, 44100) < 1e-6
    assert high_band_level_error(clean, mp3.T, edge, 44100) > 20
    assert high_band_level_error(clean, 0.5 * clean, edge, 44100) == pytest.approx(6.02, abs=0.01)


def test_band_level_difference_is_signed():
    """The signed difference (`bench/band_error.py` reads it per sub-band): + where the estimate is louder;
    `hf_err` is its size."""
    from apollo.metrics import band_level_difference, high_band_level_error, long_term_level_db

    clean = (noise(2.0, seed=3) * 0.3).T
    ref, quiet = long_term_level_db(clean), long_term_level_db(0.5 * clean)
    assert band_level_difference(ref, quiet, 12000, 20000, 44100) == pytest.approx(-6.02, abs=0.01)
    assert band_level_difference(quiet, ref, 12000, 20000, 44100) == pytest.approx(6.02, abs=0.01)
    assert high_band_level_error(clean, 0.5 * clean, 12000, 44100) == pytest.approx(6.02, abs=0.01)
