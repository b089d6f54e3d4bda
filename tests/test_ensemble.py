"""`ser ensemble`: several runs of one recipe served as one model through the one inference path."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic_runs import make_run
from typer.testing import CliRunner

from ser_cli.audio.synthetic import synth_clip
from ser_cli.cli import app
from ser_cli.features.extract import FeatureConfig, compute_features
from ser_cli.inference.load import load_predictor
from ser_cli.labels import EMOTIONS
from ser_cli.models.checkpoint import load_checkpoint
from ser_cli.models.combine import combine_runs
from ser_cli.models.ensemble import Ensemble

runner = CliRunner()


@pytest.fixture
def runs(tmp_path):
    """Three runs of one 'recipe': other initial weights, the same training-set statistics."""
    return [
        make_run(tmp_path, "enhanced", seed, stats_seed=0, name=f"seed{seed}") for seed in range(3)
    ]


def features(n: int = 3) -> list[np.ndarray]:
    clips = [synth_clip(EMOTIONS[i], i, duration=1.0 + 0.4 * i, seed=i) for i in range(n)]
    return [compute_features(c, FeatureConfig()) for c in clips]


def test_an_ensemble_predicts_its_members_mean_probability(runs, tmp_path):
    out = tmp_path / "ensemble"
    result = runner.invoke(app, ["ensemble", *map(str, runs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "ensemble of 3 runs" in result.output
    ckpt = load_checkpoint(out)
    assert isinstance(ckpt.model, Ensemble) and len(ckpt.model.members) == 3
    meta = json.loads((out / "best.json").read_text())
    assert meta["ensemble"]["members"] == 3 and "calibration" not in meta
    feats = features()
    members = np.stack([load_predictor(r).predict_batch(feats) for r in runs])
    together = load_predictor(out).predict_batch(feats)
    # The members disagree (random weights), so the mean is no member's answer.
    assert np.abs(members[0] - members[1]).max() > 0.05
    np.testing.assert_allclose(together, members.mean(0), atol=1e-5)
    assert np.allclose(together.sum(1), 1.0, atol=1e-5)


def test_members_may_differ_in_architecture(runs, tmp_path):
    """Recipes that differ in the model (options, or another model on the same features) combine."""
    narrow = make_run(
        tmp_path, "enhanced", 5, stats_seed=0, name="narrow", options={"channels": [4, 8, 8]}
    )
    base = make_run(tmp_path, "base", 6, stats_seed=0, name="base")
    members = [runs[0], narrow, base]
    out = combine_runs(members, tmp_path / "mixed")
    ckpt = load_checkpoint(out)
    built = [(type(m).__name__, m.cfg.channels) for m in ckpt.model.members]
    assert built == [
        ("EnhancedCNN", (8, 16, 16)),
        ("EnhancedCNN", (4, 8, 8)),
        ("BaseCNNRNN", (8, 16)),
    ]
    feats = features()
    probs = np.stack([load_predictor(r).predict_batch(feats) for r in members])
    np.testing.assert_allclose(load_predictor(out).predict_batch(feats), probs.mean(0), atol=1e-5)


def test_an_ensemble_records_its_runs_as_given(runs, tmp_path, monkeypatch):
    """Relative run names stay relative: a bundled ensemble carries no build machine's paths."""
    monkeypatch.chdir(tmp_path)
    combine_runs([r.name for r in runs], "ens")
    meta = json.loads((tmp_path / "ens" / "best.json").read_text())
    assert meta["ensemble"]["runs"] == ["seed0", "seed1", "seed2"]


def test_an_ensemble_exports_to_onnx_and_matches_torch(runs, tmp_path):
    pytest.importorskip("onnxruntime")
    from ser_cli.inference.onnx_export import export_onnx
    from ser_cli.inference.onnx_predictor import OnnxPredictor

    out = combine_runs(runs[:2], tmp_path / "pair")
    exported = export_onnx(out, tmp_path / "pair.onnx")
    assert exported.max_difference < 1e-4
    feats = features()
    np.testing.assert_allclose(
        OnnxPredictor(exported.path).predict_batch(feats),
        load_predictor(out).predict_batch(feats),
        atol=1e-4,
    )


@pytest.mark.parametrize(
    "case", ["one run", "missing run", "other statistics", "nested", "out taken"]
)
def test_ensemble_refuses_what_it_cannot_combine_in_one_line(runs, tmp_path, case):
    out = tmp_path / "ensemble"
    args = [str(runs[0]), str(runs[1])]
    expected = {
        "one run": "two or more run folders",
        "missing run": "run folder not found",
        "other statistics": "feature statistics",
        "nested": "already an ensemble",
        "out taken": "already holds a model",
    }[case]
    if case == "one run":
        args = args[:1]
    elif case == "missing run":
        args[1] = str(tmp_path / "no-such-run")
    elif case == "other statistics":  # trained on other data
        args[1] = str(make_run(tmp_path, "enhanced", 1, stats_seed=7, name="other-data"))
    elif case == "nested":
        args[1] = str(combine_runs(runs[1:], tmp_path / "inner"))
    elif case == "out taken":
        out = runs[2]
    before = (out / "best.json").read_bytes() if (out / "best.json").exists() else None
    result = runner.invoke(app, ["ensemble", *args, "--out", str(out)])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in " ".join(result.output.split()), result.output
    after = (out / "best.json").read_bytes() if (out / "best.json").exists() else None
    assert after == before  # nothing written, nothing clobbered
