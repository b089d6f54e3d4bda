"""The trainer, the registry models, checkpoints, resume, cross-validation and eval."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import quick_config, write_corpus
from typer.testing import CliRunner

from ser_cli.cli import app
from ser_cli.data.manifest import write_manifest
from ser_cli.errors import ConfigError, ManifestError, ModelError, OutputError
from ser_cli.features.extract import FeatureConfig
from ser_cli.inference.evaluate import evaluate_rows
from ser_cli.labels import EMOTIONS
from ser_cli.models import available_models, get_spec
from ser_cli.models.checkpoint import load_checkpoint, read_sidecar
from ser_cli.training.trainer import train_run

runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[list[dict], Path]:
    root = tmp_path_factory.mktemp("synthetic")
    rows = write_corpus(root / "audio")
    manifest = write_manifest(rows, root / "manifest.csv")
    return rows, manifest


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.mark.slow
@pytest.mark.parametrize("model", ["classic", "base", "enhanced", "ultimate", "simplified"])
def test_each_model_learns_the_synthetic_task(model, corpus, cache, tmp_path):
    rows, _ = corpus
    epochs = {"classic": 1, "base": 15, "enhanced": 30, "ultimate": 15, "simplified": 15}[model]
    result = train_run(rows, quick_config(model, epochs=epochs), tmp_path / model, cache_root=cache)
    ckpt = load_checkpoint(tmp_path / model)
    test = evaluate_rows(ckpt, [r for r in rows if r["split"] == "test"], cache_root=cache)
    chance = 1 / 8
    assert result.best_metrics["uar"] > 3 * chance, result.history
    assert test["accuracy"] > 3 * chance
    assert len(test["confusion"]) == 8 and sum(map(sum, test["confusion"])) == test["n"]


def test_registry_lists_every_model_and_rejects_unknown():
    assert {"base", "enhanced", "ultimate", "simplified", "ssl", "classic"} <= set(
        available_models()
    )
    with pytest.raises(ModelError, match="choose one of: base, enhanced"):
        get_spec("nope")


@pytest.mark.parametrize("name", ["enhanced", "base", "classic"])
def test_checkpoint_round_trip_gives_identical_predictions(name, tmp_path):
    import torch

    from ser_cli.features.normalization import Stats
    from ser_cli.models import build_model, model_config
    from ser_cli.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    bands = FeatureConfig().n_mels
    cfg = model_config(name, quick_config(name).model_options, n_features=bands, n_classes=8)
    model = build_model(name, cfg).eval()
    for p in model.buffers():  # non-default batch-norm statistics must survive too
        if p.dtype.is_floating_point:
            p.uniform_(0.5, 1.5)
    stats = Stats(
        np.linspace(-1, 1, bands, dtype=np.float32), np.linspace(1, 2, bands, dtype=np.float32)
    )
    meta = {
        "model": name,
        "model_config": dataclasses.asdict(cfg),
        "feature_config": FeatureConfig().to_dict(),
        "labels": list(EMOTIONS),
        "train_config": dataclasses.asdict(quick_config(name).train),
    }
    save_checkpoint(tmp_path, "best", model, meta, stats)
    loaded = load_checkpoint(tmp_path)
    x, mask = torch.randn(3, 90, bands), torch.ones(3, 90, dtype=torch.bool)
    mask[1, 50:] = False
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x, mask), model(x, mask))
    np.testing.assert_array_equal(loaded.global_stats.mean, stats.mean)
    np.testing.assert_array_equal(loaded.global_stats.std, stats.std)
    assert loaded.labels == EMOTIONS and loaded.feature_config == FeatureConfig()


def test_a_run_folder_holds_sidecar_config_and_optimizer(corpus, cache, tmp_path):
    rows, _ = corpus
    train_run(rows, quick_config("enhanced", epochs=1), tmp_path / "run", cache_root=cache)
    meta = read_sidecar(tmp_path / "run")
    assert meta["model"] == "enhanced" and meta["labels"][0] == "neutral"
    assert meta["feature_config"]["n_mels"] == FeatureConfig().n_mels and "ser_version" in meta
    assert (tmp_path / "run" / "config.yaml").exists()
    assert (tmp_path / "run" / "last.optim.safetensors").exists()


@pytest.fixture(scope="module")
def straight_run(corpus, cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("straight") / "run"
    train_run(corpus[0], quick_config("enhanced", epochs=2), out, cache_root=cache)
    return out


# Where Ctrl-C lands, in training batches of the second epoch: as it starts, or part-way
# through (weights already changed by this epoch must not be saved as the previous epoch's).
@pytest.mark.parametrize("batches_into_epoch", [0, 3])
def test_resume_after_interrupt_reaches_the_same_weights_as_a_straight_run(
    corpus, cache, tmp_path, monkeypatch, straight_run, batches_into_epoch
):
    import torch
    from safetensors.torch import load_file

    import ser_cli.training.batchers as batchers
    from ser_cli.training.run_state import TrainingInterrupted, finished

    rows, _ = corpus
    cfg = quick_config("enhanced", epochs=2)

    steps_per_epoch = -(-sum(r["split"] == "train" for r in rows) // cfg.train.batch_size)
    assert batches_into_epoch < steps_per_epoch
    calls = {"n": 0}
    real = batchers.train_batch

    def interrupting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == steps_per_epoch + batches_into_epoch + 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(batchers, "train_batch", interrupting)
    with pytest.raises(TrainingInterrupted, match="holds epoch 1. Continue with --resume"):
        train_run(rows, cfg, tmp_path / "resumed", cache_root=cache)
    monkeypatch.setattr(batchers, "train_batch", real)
    assert not finished(tmp_path / "resumed")  # best and last hold epoch 1 of 2
    result = train_run(rows, cfg, tmp_path / "resumed", resume=True, cache_root=cache)
    assert result.epochs_run == 2 and finished(tmp_path / "resumed")
    a = load_file(str(straight_run / "last.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "last.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    history = [
        json.loads(line)
        for line in (tmp_path / "resumed" / "history.jsonl").read_text().splitlines()
    ]
    assert [h["epoch"] for h in history] == [1, 2]


def test_interrupt_in_the_first_epoch_leaves_nothing_to_resume(
    corpus, cache, tmp_path, monkeypatch
):
    import ser_cli.training.batchers as batchers
    from ser_cli.training.run_state import TrainingInterrupted, finished

    rows, _ = corpus

    def interrupting(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batchers, "train_batch", interrupting)
    with pytest.raises(TrainingInterrupted, match="nothing to resume.*without --resume"):
        train_run(rows, quick_config("enhanced", epochs=2), tmp_path / "run", cache_root=cache)
    assert not (tmp_path / "run" / "last.json").exists()
    assert not finished(tmp_path / "run")


def test_refuses_to_overwrite_or_resume_nothing(corpus, cache, tmp_path):
    rows, _ = corpus
    with pytest.raises(ConfigError, match="nothing to resume"):
        train_run(rows, quick_config("classic"), tmp_path / "empty", resume=True, cache_root=cache)
    train_run(rows, quick_config("classic"), tmp_path / "run", cache_root=cache)
    with pytest.raises(OutputError, match="already holds a model or run"):
        train_run(rows, quick_config("classic"), tmp_path / "run", cache_root=cache)


def test_empty_train_split_is_a_clear_error(corpus, cache, tmp_path):
    rows, _ = corpus
    with pytest.raises(ManifestError, match="'train' split is empty"):
        train_run(
            [{**r, "split": "test"} for r in rows],
            quick_config("classic"),
            tmp_path / "x",
            cache_root=cache,
        )


def test_labels_the_model_does_not_know_are_excluded_and_listed(corpus, cache, tmp_path):
    rows, _ = corpus
    train_rows = [r for r in rows if r["label"] != "surprised"]
    train_run(train_rows, quick_config("classic"), tmp_path / "run", cache_root=cache)
    ckpt = load_checkpoint(tmp_path / "run")
    test_rows = [r for r in rows if r["split"] == "test"]
    report = evaluate_rows(ckpt, test_rows, cache_root=cache)
    assert report["label_mapping"]["excluded_labels"] == ["surprised"]
    assert report["n"] == sum(r["label"] != "surprised" for r in test_rows)
    with pytest.raises(ManifestError, match="nothing to score"):
        evaluate_rows(ckpt, [r for r in test_rows if r["label"] == "surprised"], cache_root=cache)


def test_corrupt_and_foreign_checkpoints_fail_clearly(corpus, cache, tmp_path):
    rows, _ = corpus
    train_run(rows, quick_config("classic"), tmp_path / "run", cache_root=cache)
    (tmp_path / "run" / "best.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="corrupt"):
        load_checkpoint(tmp_path / "run")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "best.json").write_text(json.dumps({"hello": "world"}))
    with pytest.raises(ModelError, match="not a ser checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(ModelError, match="no checkpoint"):
        load_checkpoint(tmp_path)


def test_feature_config_mismatch_with_checkpoint_is_detected(corpus, cache, tmp_path):
    rows, _ = corpus
    train_run(rows, quick_config("enhanced", epochs=1), tmp_path / "run", cache_root=cache)
    sidecar = tmp_path / "run" / "best.json"
    meta = json.loads(sidecar.read_text())
    meta["feature_config"]["n_mels"] += 24  # the weights were trained on fewer bands
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="feature"):
        load_checkpoint(tmp_path / "run")


def test_cross_validation_is_speaker_disjoint_and_reports_mean(corpus, cache, tmp_path):
    from ser_cli.training.crossval import ensure_folds, run_cv

    rows, _ = corpus
    folded = ensure_folds(rows, 3)
    for fold in {r["fold"] for r in folded}:
        inside = {r["speaker"] for r in folded if r["fold"] == fold}
        outside = {r["speaker"] for r in folded if r["fold"] != fold}
        assert not inside & outside
    result = run_cv(folded, quick_config("classic"), tmp_path / "cv", cache_root=cache)
    assert len(result.folds) == 3
    report = json.loads((tmp_path / "cv" / "cv.json").read_text())
    accs = [f["metrics"]["accuracy"] for f in report["folds"]]
    assert report["summary"]["metrics.accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert report["summary"]["metrics.accuracy"]["mean"] > 0.4


def test_cli_train_eval_and_models(corpus, tmp_path):
    _, manifest = corpus
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["train", "--model", "classic", "--data", str(manifest), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "best validation" in result.output
    result = runner.invoke(
        app,
        [
            "eval",
            "--model",
            str(out),
            "--data",
            str(manifest),
            "--json",
            "--per-file",
            "--out",
            str(tmp_path / "ev"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"accuracy", "uar", "macro_f1", "per_class", "confusion"} <= set(report)
    assert len(report["predictions"]) == report["n"]
    right = sum(p["predicted"] == p["label"] for p in report["predictions"])
    assert right == pytest.approx(report["accuracy"] * report["n"])
    assert (tmp_path / "ev" / "confusion-test.png").stat().st_size > 1000
    assert (tmp_path / "ev" / "report-test.json").exists()
    result = runner.invoke(
        app, ["eval", "--model", str(out), "--model", str(out), "--data", str(manifest)]
    )
    assert result.exit_code == 0, result.output
    assert "UAR" in result.output and "confusion" in result.output
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "simplified" in result.output and "ssl" in result.output


def test_cli_bad_inputs_exit_nonzero_with_one_line(corpus, tmp_path):
    _, manifest = corpus
    result = runner.invoke(
        app, ["train", "--model", "nope", "--data", str(manifest), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 1 and "unknown model 'nope'" in result.output
    result = runner.invoke(
        app,
        [
            "train",
            "--model",
            "classic",
            "--data",
            str(tmp_path / "none.csv"),
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 1 and "manifest not found" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\nx.wav,happy\n")
    result = runner.invoke(app, ["eval", "--model", "x", "--data", str(bad)])
    assert result.exit_code == 1 and "lacks column(s) speaker, split" in result.output
    rows, _ = corpus
    no_val = write_manifest([r for r in rows if r["split"] != "val"], tmp_path / "no-val.csv")
    result = runner.invoke(
        app, ["eval", "--model", str(tmp_path), "--data", str(no_val), "--split", "val"]
    )
    assert result.exit_code == 1 and "'val' split is empty" in result.output
    result = runner.invoke(
        app,
        ["train", "--data", str(manifest), "--out", str(tmp_path / "r"), "--set", "train.nope=1"],
    )
    assert result.exit_code == 2 and "unknown setting" in result.output


def test_models_show_recommended_and_measured_scores_from_the_benchmarks():
    from ser_cli.models.registry_info import describe_models, load_scores, scores_from_cv_reports

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    reports = [json.loads(p.read_text()) for p in sorted(results.glob("cv-*.json"))]
    # the packaged scores are the benchmarks' (regenerate: python benchmarks/run.py table)
    assert load_scores() == scores_from_cv_reports(reports)["models"]
    rows = {row["name"]: row for row in describe_models()}
    assert [name for name, row in rows.items() if row["recommended"]] == ["enhanced"]
    best = max(reports, key=lambda r: r["summary"]["metrics.accuracy"]["mean"])
    assert best["model"] == "enhanced"
    baseline = rows["classic"]["cv"]["accuracy"]["mean"]
    for name, row in rows.items():
        below = row["cv"] is not None and row["cv"]["accuracy"]["mean"] < baseline
        assert ("below the classic" in row["note"]) == below, name
    result = runner.invoke(app, ["models", "--json"])
    assert json.loads(result.output)[1]["cv"]["accuracy"] == rows["enhanced"]["cv"]["accuracy"]


@pytest.mark.parametrize("mode", ["level", "mean", "meanvar"])
def test_utterance_norm_cancels_a_recording_channel_and_ignores_padding(mode):
    import torch

    from ser_cli.models import build_model, model_config

    torch.manual_seed(0)
    options = {"channels": (8, 16), "utterance_norm": mode}
    model = build_model("enhanced", model_config("enhanced", options, n_features=16, n_classes=8))
    model.eval()
    x = torch.randn(1, 40, 16)
    mask = torch.ones(1, 40, dtype=torch.bool)
    # a fixed per-band gain (microphone, room) cancels with "mean"; a level only with "level"
    channel = torch.linspace(-3.0, 2.0, 16) if mode != "level" else torch.full((16,), 2.5)
    padded = torch.cat([x, torch.full((1, 24, 16), 7.0)], 1)
    padded_mask = torch.cat([mask, torch.zeros(1, 24, dtype=torch.bool)], 1)
    with torch.no_grad():
        plain = model(x, mask)
        torch.testing.assert_close(model(x + channel, mask), plain, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(model(padded, padded_mask), plain, atol=1e-5, rtol=1e-4)
        plain_options = {"channels": (8, 16), "utterance_norm": "none"}
        without = build_model(
            "enhanced", model_config("enhanced", plain_options, n_features=16, n_classes=8)
        ).eval()
        assert (without(x + channel, mask) - without(x, mask)).abs().max() > 1e-3


def test_a_checkpoint_from_before_utterance_norm_loads_without_it(tmp_path):
    """An `enhanced` sidecar written before the option existed must not pick up today's default
    (per-clip normalisation): its weights were trained on unnormalised frames."""
    import torch

    from ser_cli.features.normalization import Stats
    from ser_cli.models import build_model, model_config
    from ser_cli.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    cfg = model_config("enhanced", {"channels": (8, 16), "utterance_norm": "none"}, n_classes=8)
    model = build_model("enhanced", cfg).eval()
    bands = cfg.n_features
    old = dataclasses.asdict(cfg)
    del old["utterance_norm"]  # as sidecars were written before issue 10
    meta = {
        "model": "enhanced",
        "model_config": old,
        "feature_config": FeatureConfig(n_mels=bands).to_dict(),
        "labels": list(EMOTIONS),
        "train_config": dataclasses.asdict(quick_config("enhanced").train),
    }
    save_checkpoint(
        tmp_path,
        "best",
        model,
        meta,
        Stats(np.zeros(bands, np.float32), np.ones(bands, np.float32)),
    )
    loaded = load_checkpoint(tmp_path)
    assert loaded.model.cfg.utterance_norm == "none"
    x, mask = torch.randn(2, 60, bands) + 4.0, torch.ones(2, 60, dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x, mask), model(x, mask))
