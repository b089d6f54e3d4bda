"""Cross-corpus scoring: mapping a model's classes onto another corpus's labels, and `ser eval`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import quick_config, write_corpus
from typer.testing import CliRunner

from ser_cli.cli import app
from ser_cli.errors import ManifestError
from ser_cli.inference.evaluate import score_probabilities
from ser_cli.inference.label_mapping import (
    FOUR_CLASSES,
    four_class_mapping,
    map_labels,
    map_probabilities,
    scorable_rows,
)
from ser_cli.labels import EMOTIONS
from ser_cli.training.trainer import train_run

runner = CliRunner()
EMODB_LABELS = ("angry", "disgust", "fearful", "happy", "neutral", "sad")


def _probs(n: int, classes: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(classes), size=n)


def test_corpus_without_calm_counts_calm_as_neutral_and_drops_what_it_lacks():
    mapping = map_labels(EMOTIONS, EMODB_LABELS)
    assert mapping.labels == ("neutral", "happy", "sad", "angry", "fearful", "disgust")
    assert mapping.merged == {"calm": "neutral"}
    assert mapping.dropped == ("surprised",)
    assert mapping.excluded == ()
    probs = _probs(5, len(EMOTIONS))
    mapped = mapping.apply(probs)
    kept_mass = 1.0 - probs[:, EMOTIONS.index("surprised")]
    neutral = probs[:, EMOTIONS.index("neutral")] + probs[:, EMOTIONS.index("calm")]
    np.testing.assert_allclose(mapped[:, 0], neutral / kept_mass)
    np.testing.assert_allclose(mapped[:, 3], probs[:, EMOTIONS.index("angry")] / kept_mass)
    np.testing.assert_allclose(mapped.sum(axis=1), 1.0)


def test_corpus_labels_the_model_lacks_are_excluded_and_listed():
    model = ("neutral", "calm", "happy", "sad", "angry")
    probs = _probs(4, len(model))
    mapped, kept, excluded = map_probabilities(model, [*EMODB_LABELS, "boredom"], probs)
    assert kept == ("neutral", "happy", "sad", "angry")
    assert excluded == ("boredom", "disgust", "fearful")
    np.testing.assert_allclose(mapped[:, 0], probs[:, 0] + probs[:, 1])  # nothing dropped


def test_same_label_set_is_the_identity():
    probs = _probs(3, len(EMOTIONS))
    mapping = map_labels(EMOTIONS, reversed(EMOTIONS))
    assert mapping.is_identity and not mapping.merged and not mapping.dropped
    np.testing.assert_array_equal(mapping.apply(probs), probs)


def test_corpus_with_calm_keeps_calm_separate():
    mapping = map_labels(EMOTIONS, ("neutral", "calm", "sad"))
    assert mapping.labels == ("neutral", "calm", "sad") and mapping.merged == {}


def test_all_mass_on_dropped_classes_becomes_uniform():
    mapping = map_labels(("happy", "surprised", "sad"), ("happy", "sad"))
    mapped = mapping.apply(np.array([[0.0, 1.0, 0.0], [0.2, 0.6, 0.2]]))
    np.testing.assert_allclose(mapped, [[0.5, 0.5], [0.5, 0.5]])


def test_four_class_view_merges_calm_and_needs_all_four():
    four = four_class_mapping(EMOTIONS)
    assert set(four.labels) == set(FOUR_CLASSES)
    assert four.merged == {"calm": "neutral"}
    assert set(four.dropped) == {"fearful", "disgust", "surprised"}
    assert four_class_mapping(("neutral", "happy", "angry")) is None


def test_scorable_rows_keeps_known_labels_and_defaults_to_no_mapping():
    rows = [{"label": "sad"}, {"label": "boredom"}, {"label": "happy"}]
    kept, corpus = scorable_rows(rows, ("neutral", "calm", "happy", "sad"))
    assert kept == [rows[0], rows[2]]
    # A split without neutral or calm must not merge or drop them: the model's labels count.
    assert map_labels(("neutral", "calm", "happy", "sad"), corpus).is_identity
    assert scorable_rows(rows, ("happy", "sad"), ["happy", "sad", "boredom"])[1] == [
        "boredom",
        "happy",
        "sad",
    ]
    with pytest.raises(ManifestError, match="nothing to score"):
        scorable_rows([{"label": "boredom"}], ("happy", "sad"))


def test_wrong_probability_shape_is_refused():
    with pytest.raises(ValueError, match="shape"):
        map_labels(EMOTIONS, EMODB_LABELS).apply(np.ones((2, 3)))


def test_score_probabilities_reports_both_views():
    # Clips of EmoDB's six emotions; the model puts its top probability on calm for neutral clips.
    true = ["neutral", "happy", "sad", "angry", "fearful", "disgust"] * 2
    targets = np.array([EMOTIONS.index(t) for t in true])
    probs = np.full((len(true), len(EMOTIONS)), 0.02)
    for row, label in enumerate(true):
        probs[row, EMOTIONS.index("calm" if label == "neutral" else label)] = 0.86
    probs /= probs.sum(axis=1, keepdims=True)
    report = score_probabilities(probs, targets, EMOTIONS, EMODB_LABELS)
    assert report["accuracy"] == 1.0 and report["n"] == 12  # calm counted as neutral
    assert len(report["labels"]) == 6 and "calm" not in report["labels"]
    assert report["four_class"]["n"] == 8 and report["four_class"]["accuracy"] == 1.0
    assert report["label_mapping"]["dropped_labels"] == ["surprised"]
    assert 0.0 <= report["calibration"]["ece"] <= 1.0


@pytest.fixture(scope="module")
def five_label_run(tmp_path_factory) -> Path:
    """A model that knows neutral, calm, happy, sad and angry only."""
    root = tmp_path_factory.mktemp("five")
    rows = write_corpus(root / "audio", emotions=("neutral", "calm", "happy", "sad", "angry"))
    train_run(rows, quick_config("classic"), root / "run", cache_root=root / "cache")
    return root / "run"


def test_cli_eval_on_another_corpus_maps_labels(five_label_run, emodb_corpus, tmp_path):
    corpus = emodb_corpus()
    prepared = tmp_path / "prepared"
    assert runner.invoke(app, ["prepare", str(corpus), "--out", str(prepared)]).exit_code == 0
    args = ["eval", "--model", str(five_label_run), "--data", str(prepared), "--split", "all"]
    out = tmp_path / "eval"
    result = runner.invoke(app, [*args, "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["label_mapping"]["excluded_labels"] == ["disgust", "fearful"]
    assert report["label_mapping"]["merged_labels"] == {"calm": "neutral"}
    assert report["labels"] == ["neutral", "happy", "sad", "angry"]
    assert report["n"] == 16 and report["four_class"]["n"] == 16  # 4 speakers x 4 shared emotions
    assert (out / "reliability-all.png").read_bytes()[:4] == b"\x89PNG"
    table = runner.invoke(app, [*args, "--out", str(out)], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "not scored (the model lacks them): disgust, fearful" in table.output
    assert "the model's calm counts as neutral" in table.output
    assert "4-class accuracy" in table.output and "ECE" in table.output
