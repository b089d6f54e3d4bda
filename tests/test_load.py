"""The one loader: what a --model is, decided in one place, and the predictor it gives."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic_runs import check_predictor

from ser_cli.audio.synthetic import synth_clip
from ser_cli.inference.load import load_predictor, model_kind


def test_model_kind_tells_every_model_apart(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    classifier = tmp_path / "clf"
    classifier.mkdir()
    (classifier / "config.json").write_text(
        json.dumps({"architectures": ["Wav2Vec2ForSequenceClassification"]})
    )
    assert model_kind("default") == model_kind(None) == "run"
    assert model_kind(run) == model_kind(str(run)) == "run"
    assert model_kind("exported/model.onnx") == model_kind(tmp_path / "M.ONNX") == "onnx"
    assert model_kind(classifier) == "hub"
    assert model_kind("superb/wav2vec2-base-superb-er") == "hub"  # an id naming no local path
    assert model_kind("run/typo") == "run"  # its owner is a local folder: a mistyped path


@pytest.mark.parametrize("kind", ["OnnxPredictor", "TorchPredictor"])
def test_the_bundled_model_loads_as_a_predictor_with_typed_attributes(kind):
    """`default` is its shipped ONNX export on the CPU; its run folder, named, runs in torch."""
    from ser_cli.paths import bundled_model_dir

    predictor = load_predictor("default" if kind == "OnnxPredictor" else bundled_model_dir())
    check_predictor(predictor)
    assert type(predictor).__name__ == kind
    assert predictor.max_seconds == 8.0  # max_eval_frames 800 at 100 frames a second
    assert predictor.meta["model"] == "enhanced" and predictor.warnings == []
    probs = predictor.predict_batch([predictor.features(synth_clip("angry", 0, duration=1.0))])
    assert probs.shape == (1, len(predictor.labels))
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-5)
