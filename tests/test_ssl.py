"""The `ssl` path: a tiny random-initialised wav2vec 2.0 saved locally and loaded by the same
code that loads a Hugging Face id, its hidden states cached, and the head trained on them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from synthetic_runs import TINY_ENCODER, quick_config, write_corpus

from ser_cli.errors import ModelError
from ser_cli.features.extract import FeatureConfig
from ser_cli.inference.evaluate import evaluate_rows
from ser_cli.models.checkpoint import load_checkpoint
from ser_cli.training.trainer import train_run


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(**TINY_ENCODER)
    folder = tmp_path_factory.mktemp("tiny-wav2vec2")
    Wav2Vec2Model(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, do_normalize=True
    ).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_ssl_head_trains_on_a_local_encoder(tiny_encoder, tmp_path):
    root = tmp_path / "data"
    rows = write_corpus(root / "audio")
    cfg = quick_config("ssl", epochs=15, crop_frames=40, lr=0.005)
    cfg = replace(
        cfg,
        features=FeatureConfig(kind="ssl", ssl_model=str(tiny_encoder)),
        model_options={"dims": 32},
    )
    result = train_run(rows, cfg, tmp_path / "run", cache_root=root / "cache")
    assert result.best_metrics["uar"] > 2 / 8, result.history
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.meta["model_config"]["n_layers"] == 3  # embeddings + 2 blocks
    assert ckpt.feature_config.ssl_model == str(tiny_encoder)
    weights = ckpt.model.layer_weights()
    assert weights.shape == (3,) and abs(float(weights.detach().sum()) - 1) < 1e-5
    report = evaluate_rows(
        ckpt, [r for r in rows if r["split"] == "test"], cache_root=root / "cache"
    )
    assert report["n"] == 16


def test_unloadable_encoder_is_a_clear_error(tmp_path):
    from ser_cli.features.ssl_encoder import load_encoder

    with pytest.raises(ModelError, match="cannot load speech encoder"):
        load_encoder(str(tmp_path / "no-such-model"))
