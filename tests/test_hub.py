"""Hub audio classifiers: a tiny random Wav2Vec2ForSequenceClassification saved to tmp_path
(exactly what `save_pretrained` of a hub checkpoint leaves) through predict, eval and listen,
with its foreign label names mapped onto the canonical emotions. No network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import TINY_ENCODER, check_predictor, quick_config, write_corpus
from typer.testing import CliRunner

from ser_cli.audio.io import write_audio
from ser_cli.audio.synthetic import synth_clip
from ser_cli.cli import app
from ser_cli.data.manifest import write_manifest
from ser_cli.inference.hub_predictor import HubPredictor, is_hub_classifier
from ser_cli.inference.load import load_predictor
from ser_cli.labels import map_model_labels
from ser_cli.training.trainer import train_run

runner = CliRunner()
HUB_LABELS = {0: "ang", 1: "Hap", 2: " neutral ", 3: "SADNESS"}
CANONICAL = ("angry", "happy", "neutral", "sad")


def save_classifier(folder: Path, id2label: dict, *, with_extractor: bool = True, mask=True):
    """A tiny random classifier; with ``mask`` a layer-normed front end and an extractor that
    returns attention masks (wav2vec2-large style), without it the wav2vec2-base style."""
    import torch
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForSequenceClassification,
    )

    torch.manual_seed(0)
    config = Wav2Vec2Config(
        **TINY_ENCODER,
        classifier_proj_size=16,
        feat_extract_norm="layer" if mask else "group",
        num_labels=len(id2label),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    Wav2Vec2ForSequenceClassification(config).save_pretrained(folder)
    if with_extractor:
        Wav2Vec2FeatureExtractor(
            feature_size=1, sampling_rate=16000, do_normalize=True, return_attention_mask=mask
        ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    return save_classifier(tmp_path_factory.mktemp("hub-clf"), HUB_LABELS)


def test_label_mapping_is_canonical_and_keeps_unknown_names_once():
    labels, kept = map_model_labels(["ANG", " joy", "Neutral", "sadness", "boredom", "LABEL_5"])
    assert labels == ("angry", "happy", "neutral", "sad", "boredom", "LABEL_5")
    assert kept == ("boredom", "LABEL_5")
    # A second spelling of a taken emotion keeps its own name instead of duplicating one.
    labels, kept = map_model_labels(["happy", "Happiness", "fear", "fearful"])
    assert labels == ("happy", "Happiness", "fearful", "fearful_")
    assert kept == ("Happiness", "fearful")
    assert len(set(labels)) == len(labels)
    for names in (["sur", "surprise"], ["dis", "Disgust"], ["calm"]):
        assert map_model_labels(names)[0][0] in ("surprised", "disgust", "calm")


def test_detection(classifier, tmp_path):
    assert is_hub_classifier(classifier)
    assert is_hub_classifier("superb/wav2vec2-base-superb-er")  # shaped like a hub id
    (tmp_path / "runs").mkdir()
    assert not is_hub_classifier(tmp_path / "runs")  # a folder without a classifier config
    assert not is_hub_classifier("default")
    assert not is_hub_classifier(str(tmp_path / "missing" / "run"))


def test_predictor_maps_labels_and_batches_like_single_clips(classifier):
    predictor = load_predictor(str(classifier))
    assert isinstance(predictor, HubPredictor)
    check_predictor(predictor)
    assert predictor.labels == CANONICAL and not predictor.warnings
    assert not predictor.uses_speaker_stats()
    clips = [synth_clip("angry", 1, duration=d, seed=i) for i, d in enumerate((0.5, 1.0, 0.7))]
    feats = [predictor.features(c) for c in clips]
    assert feats[1].shape == (16000, 1) and feats[1].dtype == np.float32
    batch = predictor.predict_batch(feats)
    assert batch.shape == (3, 4)
    np.testing.assert_allclose(batch.sum(1), 1.0, atol=1e-5)
    # Padding with an attention mask must not change a clip's result.
    for f, row in zip(feats, batch, strict=True):
        np.testing.assert_allclose(predictor.predict_batch([f])[0], row, atol=1e-4)


def test_checkpoint_without_mask_or_extractor(tmp_path):
    folder = save_classifier(
        tmp_path / "nomask", {0: "calm", 1: "boredom"}, with_extractor=False, mask=False
    )
    predictor = HubPredictor(str(folder))
    assert predictor.labels == ("calm", "boredom")
    assert predictor.warnings and "boredom" in predictor.warnings[0]
    folder = save_classifier(tmp_path / "nomask2", {0: "ang", 1: "sad"}, mask=False)
    predictor = HubPredictor(str(folder))
    assert not predictor.uses_mask and not predictor.batchable
    feats = [predictor.features(synth_clip("sad", 0, duration=d)) for d in (0.5, 1.0)]
    batch = predictor.predict_batch(feats)  # clip by clip: padding would shift the statistics
    np.testing.assert_allclose(predictor.predict_batch([feats[0]])[0], batch[0], atol=1e-5)


def test_predict_cli(classifier, tmp_path):
    clip = write_audio(tmp_path / "a.wav", synth_clip("angry", 1, duration=1.0))
    result = runner.invoke(
        app, ["predict", str(clip), "--model", str(classifier), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.output)
    assert set(item["probabilities"]) == set(CANONICAL)
    assert item["label"] in CANONICAL


def test_listen_file_cli(classifier, tmp_path):
    clip = write_audio(tmp_path / "a.wav", synth_clip("happy", 2, duration=2.0))
    result = runner.invoke(
        app, ["listen", "--file", str(clip), "--speed", "0", "--model", str(classifier)]
    )
    assert result.exit_code == 0, result.output
    assert any(label in result.output for label in CANONICAL)
    assert "LABEL_" not in result.output and "Hap" not in result.output


def test_eval_cli_side_by_side_with_a_trained_run(classifier, tmp_path):
    rows = write_corpus(tmp_path / "audio", emotions=("angry", "happy", "neutral", "sad", "calm"))
    manifest = write_manifest(rows, tmp_path / "prep" / "manifest.csv")
    run = tmp_path / "classic"
    train_run(rows, quick_config("classic"), run, cache_root=tmp_path / "cache")
    out = tmp_path / "eval"
    args = ["eval", "--model", str(classifier), "--model", str(run), "--data", str(manifest)]
    result = runner.invoke(app, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    reports = json.loads(result.output)
    hub, trained = reports[str(classifier)], reports[str(run)]
    test_rows = [r for r in rows if r["split"] == "test"]
    # The classifier cannot say calm: its calm clips are left out and listed, as `ser eval`
    # does for any model on a corpus with emotions the model lacks.
    scored = [r for r in test_rows if r["label"] != "calm"]
    assert len(scored) < len(test_rows)
    assert trained["n"] == len(test_rows) and hub["n"] == len(scored)
    assert hub["label_mapping"]["excluded_labels"] == ["calm"]
    assert sorted(hub["labels"]) == sorted(CANONICAL)
    assert sum(map(sum, hub["confusion"])) == len(scored)
    assert (out / classifier.name / "report-test.json").exists()
    assert (out / run.name / "report-test.json").exists()
    table = runner.invoke(app, [*args, "--out", str(out)])
    assert table.exit_code == 0, table.output
    assert classifier.name in table.output and "classic" in table.output


def test_unknown_name_fails_fast_and_says_why(tmp_path, monkeypatch):
    import huggingface_hub

    from ser_cli.errors import ModelError

    def offline(self, name, **kwargs):  # never touch the network in tests
        raise ConnectionError("no network")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", offline)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match="not a local folder.*cannot be reached"):
        load_predictor("runs/typo")
    empty = tmp_path / "clf"
    save_classifier(empty, HUB_LABELS)
    (empty / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="cannot load"):
        load_predictor(str(empty))
