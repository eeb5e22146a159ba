import json

import numpy as np
import pytest
import torch

from apollo.audio.codec import degrade
from apollo.checkpoint import save_generator
from apollo.evaluate import EvalParams, EvaluationError, evaluate_checkpoint, real_audio_pairs, summarise, visqol
from apollo.metrics import si_snr
from apollo.models.apollo import Apollo, ApolloConfig
from tests.conftest import noise, write


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
    pairs = real_audio_pairs(tmp_path, clips=4, seconds=3.0, bitrates=(24, 128))
    assert [p["key"] for p in pairs] == ["long@24", "long@128"]
    assert [p["bitrate_actual"] for p in pairs] == [32, 128]
    for p in pairs:
        assert p["target"].shape == p["degraded"].shape == (2, 3 * 44100)
        assert max(np.abs(p["target"]).max(), np.abs(p["degraded"]).max()) == pytest.approx(1.0)
    assert si_snr(pairs[1]["target"], pairs[1]["degraded"]) > 30  # aligned: no codec delay left
    with pytest.raises(EvaluationError, match="at least 5.0 s"):
        real_audio_pairs(tmp_path, clips=4, seconds=5.0, bitrates=(64,))


@pytest.mark.slow
def test_visqol_ranks_clean_above_degraded():
    clean = (tones(3.0) + noise(3.0, seed=3) * 0.3).T  # tones over broadband noise
    coarse, _, _ = degrade(clean.T.copy(), 44100, "mp3", 32)
    assert visqol(clean, clean) > 4.5
    assert visqol(clean, clean) > visqol(clean, coarse.T) + 0.3
    with pytest.raises(EvaluationError, match="ViSQOL cannot score"):
        visqol(clean[:, :2000], clean[:, :2000])


def test_identity_generator_scores_like_the_mp3_and_the_report_is_written(shards, tmp_path):
    torch.manual_seed(0)
    checkpoint = tmp_path / "identity.safetensors"
    save_generator(Apollo(ApolloConfig(feature_dim=16, layers=1, residual=True)), checkpoint)  # starts as identity
    write(tmp_path / "real" / "loop.flac", noise(1.0, seed=5) * 0.3)
    params = EvalParams(out=str(tmp_path / "eval"), visqol=False, examples=2, real_audio=str(tmp_path / "real"),
                        real_clips=2, real_seconds=1.0, real_bitrates=(32, 64))  # fmt: skip
    result = evaluate_checkpoint(checkpoint, f"{shards}/test", params)
    assert result["samples"] == {"synthetic": 2, "real_audio": 2}
    for block in (result, result["real_audio"]):
        restored, mp3 = block["overall"]["restored"], block["overall"]["mp3"]
        assert set(restored) == {"sdr", "si_snr", "lsd"}
        assert restored["si_snr"] == pytest.approx(mp3["si_snr"], abs=0.05)
        assert restored["lsd"] == pytest.approx(mp3["lsd"], abs=0.05)
    assert set(result["per_category"]) <= {"vocal", "single stem", "multi-stem", "multi-stem + vocal"}
    out = tmp_path / "eval"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["per_bitrate"] == json.loads(json.dumps(result["per_bitrate"]))
    assert numbers_only(saved)  # DVC metrics: the methods' text is in report.md
    tsv = (out / "real_audio_per_bitrate.tsv").read_text().splitlines()
    assert tsv[0].split("\t")[:3] == ["bitrate", "sdr_restored", "sdr_mp3"] and [r.split("\t")[0] for r in tsv[1:]] == ["32", "64"]
    assert (out / "per_bitrate.png").stat().st_size > 1000
    assert len(list((out / "examples").glob("*.png"))) == 2
    report = (out / "report.md").read_text()
    assert "## Real recorded audio" in report and "](examples/" in report
    assert "Samples: 2 synthetic, 2 real audio." in report and "LSD: 2048-point Hann" in report and "ViSQOL: off" in report


def numbers_only(tree) -> bool:
    if isinstance(tree, dict):
        return all(numbers_only(v) for v in tree.values())
    if isinstance(tree, list):
        return all(numbers_only(v) for v in tree)
    return isinstance(tree, (int, float)) and not isinstance(tree, bool)


def test_examples_prefer_low_bitrates_and_distinct_categories():
    from apollo.report import pick_examples

    audio = np.zeros((2, 10), np.float32)
    pairs = [{"key": k, "bitrate": b, "category": c, "target": audio} for k, b, c in
             [("a", 128, "vocal"), ("b", 24, "vocal"), ("c", 24, "vocal"), ("d", 64, "multi-stem"), ("e", 32, "vocal")]]  # fmt: skip
    assert [p["key"] for p in pick_examples(pairs, 3)] == ["b", "d", "c"]
