"""Fine-tuning a speech encoder under the ssl head: tiny random wav2vec 2.0 and HuBERT models
saved to tmp_path (loaded by the same code that loads a hub id), their top block trained with
gradient checkpointing on the separable synthetic corpus. No network, CPU only."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import TINY_ENCODER, quick_config, write_corpus

from ser_cli.errors import ModelError
from ser_cli.features.clips import ClipSet
from ser_cli.features.extract import FeatureConfig
from ser_cli.features.ssl_encoder import WAVE_FRAME, waveform_frames
from ser_cli.inference.evaluate import evaluate_rows
from ser_cli.inference.load import load_predictor
from ser_cli.models.checkpoint import load_checkpoint
from ser_cli.models.ssl_finetune import parse_finetune
from ser_cli.training.batchers import WaveformBatcher, bucketed_batches
from ser_cli.training.trainer import train_run


def save_encoder(folder: Path, kind: str) -> Path:
    import torch
    from transformers import (
        HubertConfig,
        HubertModel,
        Wav2Vec2Config,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2Model,
    )

    torch.manual_seed(0)
    config_cls, model_cls = {
        "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model),
        "hubert": (HubertConfig, HubertModel),
    }[kind]
    model_cls(config_cls(**TINY_ENCODER)).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, do_normalize=True
    ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft-data")
    return root, write_corpus(root / "audio")


def finetune_config(encoder: Path, epochs: int, **train):
    cfg = quick_config(
        "ssl",
        epochs=epochs,
        crop_frames=40,
        lr=0.01,
        encoder_lr=0.002,
        gradient_checkpointing=True,
        num_threads=1,  # tiny tensors: more threads only contend on a busy machine
        **train,
    )
    return replace(
        cfg,
        features=FeatureConfig(kind="ssl", ssl_model=str(encoder)),
        model_options={"dims": 32, "finetune": "top-1", "dropout": 0.1},
    )


def encoder_weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_helpers():
    assert parse_finetune("none") is None and parse_finetune("top-3") == 3
    assert parse_finetune("all") == -1
    for bad in ("top-0", "top", "some", "top-x"):
        with pytest.raises(ModelError, match="finetune"):
            parse_finetune(bad)
    frames = waveform_frames(np.arange(1000, dtype=np.float32), max_seconds=8.0)
    assert frames.shape == (4, WAVE_FRAME) and frames[3, 1000 - 960 :].sum() == 0
    assert frames.reshape(-1)[999] == 999
    lengths = np.random.default_rng(0).integers(10, 100, size=45)
    batches = bucketed_batches(lengths, 8, np.random.default_rng(1))
    assert len(batches) == 6 and sorted(np.concatenate(batches).tolist()) == list(range(45))
    # several corpora: each an equal share of the epoch, in batches of similar length
    corpora = np.array([0] * 40 + [1] * 5)
    clips = ClipSet([np.zeros((n, WAVE_FRAME), np.float32) for n in lengths],
                    np.zeros(45, np.int64), ["s"] * 45, ["p"] * 45)  # fmt: skip
    order = WaveformBatcher(clips, 40, 8, corpora, True).order(np.random.default_rng(0))
    assert np.bincount(corpora[order]).tolist() == [22, 22]
    one = WaveformBatcher(clips, 40, 8, np.zeros(45, np.int64), True)
    assert sorted(one.order(np.random.default_rng(0)).tolist()) == list(range(45))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["wav2vec2", "hubert"])
def test_top_block_learns_and_only_it_changes(kind, corpus, tmp_path):
    root, rows = corpus
    encoder = save_encoder(tmp_path / kind, kind)
    run = tmp_path / "run"
    result = train_run(rows, finetune_config(encoder, 12), run, cache_root=root / "cache")
    assert result.best_metrics["accuracy"] > 0.45, result.history  # chance: 1/8

    ckpt = load_checkpoint(run, "last")
    assert ckpt.feature_config.kind == "waveform"
    assert ckpt.feature_config.ssl_model == str(encoder)
    assert ckpt.model.cfg.encoder_config["model_type"] == kind
    before = encoder_weights(encoder)
    after = {k: v for k, v in ckpt.model.encoder.state_dict().items()}
    changed = {k for k, v in before.items() if not np.allclose(v.numpy(), after[k].numpy())}
    assert changed, "the top block did not train"
    assert all(k.startswith("encoder.layers.1.") for k in changed), sorted(changed)
    conv = [k for k in before if k.startswith("feature_extractor.")]
    assert conv and not changed & set(conv)

    # predict/eval load the run like any other, running the fine-tuned encoder on raw audio.
    predictor = load_predictor(str(run))
    assert not predictor.uses_speaker_stats()
    test_rows = [r for r in rows if r["split"] == "test"]
    from ser_cli.audio.io import load_audio

    probs = predictor.predict_batch([predictor.features(load_audio(test_rows[0]["path"]))])[0]
    assert probs.shape == (8,) and abs(float(probs.sum()) - 1) < 1e-4
    report = evaluate_rows(load_checkpoint(run), test_rows, cache_root=root / "cache")
    assert report["n"] == len(test_rows) and report["accuracy"] > 1 / 8
    if kind == "wav2vec2":  # the live path too: 20 ms waveform frames through the encoder
        from typer.testing import CliRunner

        from ser_cli.cli import app

        args = ["listen", "--file", test_rows[0]["path"], "--speed", "0", "--model", str(run)]
        result = CliRunner().invoke(app, [*args, "--window", "0.5", "--hop", "0.25"])
        assert result.exit_code == 0, result.output
        assert any(label in result.output for label in ckpt.labels)


@pytest.mark.slow
def test_interrupt_mid_epoch_and_resume_replay_a_straight_run(corpus, tmp_path, monkeypatch):
    """Ctrl-C part-way through the second epoch: `last` stays at epoch 1 (the weights this
    epoch already moved are dropped, as for every model), and --resume replays epoch 2."""
    import ser_cli.training.batchers as batchers
    from ser_cli.training.run_state import TrainingInterrupted

    root, rows = corpus
    encoder = save_encoder(tmp_path / "enc", "wav2vec2")
    cfg = finetune_config(encoder, 2)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_run(rows, cfg, straight, cache_root=root / "cache")

    steps_per_epoch = -(-sum(r["split"] == "train" for r in rows) // cfg.train.batch_size)
    calls = {"n": 0}
    real = batchers.crop_batch

    def interrupting(*args, **kwargs):  # Ctrl-C 3 batches into the second epoch
        calls["n"] += 1
        if calls["n"] == steps_per_epoch + 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(batchers, "crop_batch", interrupting)
    with pytest.raises(TrainingInterrupted, match="holds epoch 1. Continue with --resume"):
        train_run(rows, cfg, resumed, cache_root=root / "cache")
    assert load_checkpoint(resumed, "last").meta["epoch"] == 1
    monkeypatch.setattr(batchers, "crop_batch", real)
    result = train_run(rows, cfg, resumed, resume=True, cache_root=root / "cache")
    assert result.epochs_run == 2
    a, b = load_checkpoint(straight, "last"), load_checkpoint(resumed, "last")
    for (name, x), y in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        np.testing.assert_allclose(x.numpy(), y.numpy(), atol=1e-5, err_msg=name)
    history = (resumed / "history.jsonl").read_text().splitlines()
    assert len(history) == 2 and "encoder_lr" in history[-1]


def test_bad_finetune_option_is_a_clear_error(corpus, tmp_path):
    root, rows = corpus
    encoder = save_encoder(tmp_path / "enc", "wav2vec2")
    cfg = replace(finetune_config(encoder, 1), model_options={"finetune": "top-9"})
    with pytest.raises(ModelError, match="only 2 transformer blocks"):
        train_run(rows, cfg, tmp_path / "run", cache_root=root / "cache")
