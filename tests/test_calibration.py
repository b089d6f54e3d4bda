"""Calibrated confidence: temperature scaling, ECE, reliability bins, --min-confidence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import softmax
from synthetic_runs import quick_config, write_corpus
from typer.testing import CliRunner

from ser_cli.audio.io import write_audio
from ser_cli.audio.synthetic import synth_clip
from ser_cli.cli import app
from ser_cli.errors import SerError
from ser_cli.inference.calibration import (
    confident_label,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
    scaled_probabilities,
)
from ser_cli.inference.load import load_predictor
from ser_cli.inference.predictor import predict_files
from ser_cli.labels import EMOTIONS, UNCERTAIN
from ser_cli.listen.stream import ListenOptions, StreamProcessor
from ser_cli.models.checkpoint import load_checkpoint
from ser_cli.training.trainer import train_run

runner = CliRunner()


def _sampled(n: int, classes: int, temperature: float, seed: int = 0):
    """Logits, and labels drawn from softmax(logits / temperature): T is the truth to recover."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, size=(n, classes))
    probs = softmax(logits / temperature, axis=1)
    targets = np.array([rng.choice(classes, p=p) for p in probs])
    return logits, targets


@pytest.mark.parametrize("true_t", [0.5, 2.5])
def test_fit_temperature_recovers_the_temperature_that_generated_the_labels(true_t):
    logits, targets = _sampled(4000, 5, true_t)
    assert fit_temperature(logits, targets) == pytest.approx(true_t, rel=0.1)
    scaled = scaled_probabilities(logits, true_t)
    np.testing.assert_allclose(scaled.sum(axis=1), 1.0)
    np.testing.assert_array_equal(scaled.argmax(axis=1), logits.argmax(axis=1))
    # Log-probabilities are logits up to a per-row constant: the same T.
    log_probs = np.log(softmax(logits, axis=1))
    assert fit_temperature(log_probs, targets) == pytest.approx(fit_temperature(logits, targets))


def test_ece_is_small_when_calibrated_and_large_when_overconfident():
    logits, targets = _sampled(4000, 4, 1.0, seed=1)
    calibrated = expected_calibration_error(softmax(logits, axis=1), targets)
    overconfident = expected_calibration_error(softmax(logits * 4, axis=1), targets)
    assert calibrated < 0.03 < 0.1 < overconfident


def test_reliability_bins_count_every_clip_once():
    probs = np.array([[1.0, 0.0], [0.5, 0.5], [0.15, 0.85], [0.7, 0.3]])
    bins = reliability_bins(probs, np.array([0, 1, 1, 1]), n_bins=5)
    assert sum(b["count"] for b in bins) == 4
    assert bins[4]["count"] == 2 and bins[4]["accuracy"] == 1.0  # 1.0 and 0.85 in (0.8, 1]
    assert bins[4]["confidence"] == pytest.approx(0.925)
    assert bins[2]["count"] == 1 and bins[2]["accuracy"] == 0.0  # argmax of a tie is class 0
    assert bins[3]["count"] == 1 and bins[3]["accuracy"] == 0.0
    assert bins[0]["count"] == 0 and bins[0]["accuracy"] is None
    assert expected_calibration_error(probs, np.array([0, 1, 1, 1]), n_bins=5) == pytest.approx(
        (2 * 0.075 + 0.5 + 0.7) / 4
    )


def test_confident_label():
    assert confident_label(("a", "b"), [0.3, 0.7], 0.6) == "b"
    assert confident_label(("a", "b"), [0.3, 0.7], 0.75) == UNCERTAIN
    assert confident_label(("a", "b"), [0.3, 0.7]) == "b"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("calibrated")
    rows = write_corpus(root / "audio")
    train_run(rows, quick_config("enhanced", epochs=2), root / "run", cache_root=root / "cache")
    return root / "run"


def test_training_stores_a_temperature_that_the_predictor_applies(run_dir, tmp_path):
    meta = json.loads((run_dir / "best.json").read_text())
    t = meta["calibration"]["temperature"]
    assert np.exp(-3) <= t <= np.exp(3) and meta["calibration"]["fitted_on"] == "val"
    # NLL-optimal T need not lower the ECE, but on the validation clips it was fitted on it
    # cannot make the model much worse calibrated.
    assert meta["calibration"]["val_ece_after"] <= meta["calibration"]["val_ece_before"] + 0.1
    assert load_checkpoint(run_dir).temperature == pytest.approx(t)
    clip = synth_clip("angry", 1, duration=1.0)
    flat = _with_temperature(run_dir, tmp_path / "t4", 4.0 * t)
    sharp_model, soft_model = load_predictor(run_dir), load_predictor(flat)
    sharp = sharp_model.predict_batch([sharp_model.features(clip)])[0]
    soft = soft_model.predict_batch([soft_model.features(clip)])[0]
    assert soft.argmax() == sharp.argmax()  # temperature never changes the label
    # softmax(z / 4T) is softmax(log(softmax(z / T)) / 4)
    np.testing.assert_allclose(soft, softmax(np.log(sharp) / 4.0), atol=1e-5)


def _with_temperature(run_dir: Path, target: Path, t: float) -> Path:
    target.mkdir()
    for name in ("best.safetensors", "config.yaml"):
        (target / name).write_bytes((run_dir / name).read_bytes())
    meta = json.loads((run_dir / "best.json").read_text())
    meta["calibration"]["temperature"] = t
    (target / "best.json").write_text(json.dumps(meta))
    return target


def test_checkpoint_without_calibration_uses_t_1(run_dir, tmp_path):
    target = _with_temperature(run_dir, tmp_path / "old", 1.0)
    meta = json.loads((target / "best.json").read_text())
    del meta["calibration"]
    (target / "best.json").write_text(json.dumps(meta))
    assert load_checkpoint(target).temperature == 1.0


def test_eval_reports_ece_and_writes_a_reliability_diagram(run_dir, tmp_path):
    rows = write_corpus(tmp_path / "audio")
    from ser_cli.data.manifest import write_manifest

    manifest = write_manifest(rows, tmp_path / "manifest.csv")
    out = tmp_path / "eval"
    result = runner.invoke(
        app, ["eval", "--model", str(run_dir), "--data", str(manifest), "--json", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert 0.0 <= report["calibration"]["ece"] <= 1.0
    assert report["calibration"]["temperature"] == pytest.approx(
        load_checkpoint(run_dir).temperature
    )
    assert sum(b["count"] for b in report["calibration"]["bins"]) == report["n"]
    assert report["label_mapping"]["excluded_labels"] == []  # same corpus: nothing mapped
    assert (out / "reliability-test.png").read_bytes()[:4] == b"\x89PNG"


def test_predict_min_confidence_reports_uncertain_and_keeps_probabilities(run_dir, tmp_path):
    clip = write_audio(tmp_path / "a.wav", synth_clip("sad", 2, duration=1.0))
    args = ["predict", str(clip), "--model", str(run_dir), "--format", "json"]
    [plain] = json.loads(runner.invoke(app, args).output)
    top = max(plain["probabilities"].values())
    [sure] = json.loads(runner.invoke(app, [*args, "--min-confidence", f"{top - 1e-3}"]).output)
    [unsure] = json.loads(runner.invoke(app, [*args, "--min-confidence", f"{top + 1e-3}"]).output)
    assert sure["label"] == plain["label"] in EMOTIONS
    assert unsure["label"] == UNCERTAIN and unsure["probabilities"] == plain["probabilities"]
    bad = runner.invoke(app, [*args, "--min-confidence", "1.5"])
    assert bad.exit_code == 2 and "between 0 and 1" in bad.output


def test_long_recording_segments_become_uncertain(run_dir, tmp_path):
    audio = np.concatenate([synth_clip("happy", 1, duration=2.0, seed=s) for s in range(3)])
    path = write_audio(tmp_path / "long.wav", audio)
    predictor = load_predictor(run_dir)
    [result] = predict_files(predictor, [path], window=2.0, hop=2.0, min_confidence=1.0)
    speech = [s for s in result.segments if s.probabilities]
    assert speech and all(s.label == UNCERTAIN for s in speech)
    with pytest.raises(SerError, match="between 0 and 1"):
        predict_files(predictor, [path], min_confidence=-0.1)


def test_listen_min_confidence_labels_uncertain(run_dir):
    predictor = load_predictor(run_dir)
    loud = synth_clip("angry", 1, duration=1.0)
    sure = StreamProcessor(predictor, ListenOptions(window=1.0, hop=0.5)).push(loud)
    unsure = StreamProcessor(
        predictor, ListenOptions(window=1.0, hop=0.5, min_confidence=1.0)
    ).push(loud)
    speech = [u for u in unsure if u.is_speech]
    assert speech and all(u.label == UNCERTAIN for u in speech)
    assert all(u.label != UNCERTAIN for u in sure)
    with pytest.raises(SerError, match="between 0 and 1"):
        ListenOptions(min_confidence=2.0)
