"""features.voice: a pretrained speaker encoder's embedding beside the log-mel frames, read by
the enhanced model's second (voice) head."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from synthetic_runs import quick_config, write_corpus
from typer.testing import CliRunner

from ser_cli.audio.io import SAMPLE_RATE
from ser_cli.audio.synthetic import synth_clip
from ser_cli.cli import app
from ser_cli.errors import ConfigError, ModelError
from ser_cli.features.clips import ClipSet
from ser_cli.features.extract import FeatureConfig, compute_features
from ser_cli.features.normalization import Stats
from ser_cli.features.voice import VOICE_DIMS
from ser_cli.models.cnn import EnhancedCNN, EnhancedConfig
from ser_cli.training.augment import AugmentConfig
from ser_cli.training.batchers import train_batch
from ser_cli.training.trainer import optimizer_step, train_run

runner = CliRunner()


def test_voice_features_are_the_log_mel_frames_with_one_embedding_beside_each():
    a = synth_clip("angry", speaker=0, duration=1.5)
    plain = compute_features(a, FeatureConfig())
    voiced = compute_features(a, FeatureConfig(voice=True))
    assert voiced.shape == (len(plain), FeatureConfig().n_mels + VOICE_DIMS)
    assert FeatureConfig(voice=True).dims == voiced.shape[1]
    np.testing.assert_array_equal(voiced[:, : plain.shape[1]], plain)
    embedding = voiced[:, plain.shape[1] :]
    assert np.all(embedding == embedding[0])  # the clip's one embedding on every frame
    assert np.linalg.norm(embedding[0]) == pytest.approx(1.0, abs=1e-4)
    other = compute_features(
        synth_clip("angry", speaker=3, duration=1.5), FeatureConfig(voice=True)
    )
    assert not np.allclose(other[0, plain.shape[1] :], embedding[0], atol=1e-3)
    silent = compute_features(np.zeros(SAMPLE_RATE, np.float32), FeatureConfig(voice=True))
    assert not np.any(silent[:, plain.shape[1] :])  # nothing to embed: zeros, not NaN


def test_voice_features_are_refused_for_other_feature_kinds():
    with pytest.raises(ConfigError, match="features.voice adds to log-mel"):
        FeatureConfig(kind="mfcc", voice=True)


def test_augmentation_changes_the_log_mel_and_leaves_the_embedding_alone():
    rng = np.random.default_rng(0)
    mel, voice = rng.normal(size=(120, 40)), rng.normal(size=(1, 8))
    clip = np.concatenate([mel, np.repeat(voice, 120, 0)], 1).astype(np.float32)
    clips = ClipSet([clip] * 4, np.zeros(4, np.int64), ["s"] * 4, ["p"] * 4)
    identity = Stats(np.zeros(48, np.float32), np.ones(48, np.float32))
    augment = AugmentConfig(gain_db=6.0, noise_prob=1.0, speed_prob=1.0)
    x, mask, _ = train_batch(clips, np.arange(4), [identity] * 4, 100, augment, rng, voice_dims=8)
    assert x.shape == (4, 100, 48)
    np.testing.assert_allclose(x[mask][:, 40:], np.repeat(voice, mask.sum(), 0), atol=1e-6)
    assert not np.allclose(x[0, :, :40], mel[:100], atol=1e-3)  # the log-mel was augmented


def _voice_batch(gen, n: int, classes: int, dims: int = 16):
    """Noise for log-mel, class-dependent voice embeddings: only the voice head can learn."""
    y = torch.randint(0, classes, (n,), generator=gen)
    centres = torch.eye(classes, dims, dtype=torch.float32) * 3
    voice = centres[y] + torch.randn(n, dims, generator=gen)
    mel = torch.randn(n, 64, 40, generator=gen)
    x = torch.cat([mel, voice[:, None, :].expand(n, 64, dims)], 2)
    return x.numpy(), np.ones((n, 64), bool), y.numpy()


def test_the_voice_head_is_a_second_expert_that_learns_on_its_own_loss():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = EnhancedCNN(EnhancedConfig(n_features=56, n_classes=4, voice_dims=16))
    x, mask, y = _voice_batch(gen, 8, 4)
    model.train()
    heads = model(torch.from_numpy(x), torch.from_numpy(mask))
    assert isinstance(heads, tuple) and [h.shape for h in heads] == [(8, 4), (8, 4)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    criterion = torch.nn.CrossEntropyLoss()
    for _ in range(60):
        optimizer_step(
            model, model, optimizer, criterion, _voice_batch(gen, 16, 4), "cpu", False, 5.0
        )
    model.eval()
    x, mask, y = _voice_batch(gen, 200, 4)
    with torch.no_grad():
        fused = model(torch.from_numpy(x), torch.from_numpy(mask))
        voice = model.voice(torch.from_numpy(x[:, 0, 40:]))
    assert (fused.argmax(1).numpy() == y).mean() > 0.8  # chance is 0.25: the voice head learnt
    # at inference the two experts multiply: the fused log-probabilities minus the voice
    # head's are the CNN's own log-softmax (rows that normalise to one)
    cnn = fused - torch.log_softmax(voice, -1)
    np.testing.assert_allclose(torch.logsumexp(cnn, 1).numpy(), 0.0, atol=1e-5)


def test_voice_l2_shrinks_the_voice_head_and_still_lets_it_learn():
    """model_options.voice_l2: the penalty is voice_l2 x the head's squared weights, added to
    the loss; trained on the same batches, the head ends smaller and still classifies."""
    from ser_cli.models import model_config

    assert model_config("enhanced", {"voice_l2": 0.0}, voice_dims=16).voice_l2 == 0.0
    with pytest.raises(ModelError, match="voice_l2: must be at least 0"):
        model_config("enhanced", {"voice_l2": -0.1}, voice_dims=16)
    norms, scores = {}, {}
    for l2 in (0.0, 0.2):
        torch.manual_seed(0)
        gen = torch.Generator().manual_seed(0)
        model = EnhancedCNN(EnhancedConfig(n_features=56, n_classes=4, voice_dims=16, voice_l2=l2))
        weight = model.voice[1].weight
        if l2:
            expected = l2 * weight.pow(2).sum()
            torch.testing.assert_close(model.penalty(), expected)
        else:
            assert model.penalty() is None
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.0)
        criterion = torch.nn.CrossEntropyLoss()
        for _ in range(60):
            batch = _voice_batch(gen, 16, 4)
            optimizer_step(model, model, optimizer, criterion, batch, "cpu", False, 5.0)
        model.eval()
        x, _, y = _voice_batch(gen, 200, 4)
        with torch.no_grad():
            voice = model.voice(torch.from_numpy(x[:, 0, 40:]))
        norms[l2] = float(weight.detach().norm())
        scores[l2] = float((voice.argmax(1).numpy() == y).mean())
    assert norms[0.2] < 0.7 * norms[0.0], norms
    assert scores[0.2] > 0.8, scores  # chance is 0.25


def test_voice_l2_without_voice_features_is_refused_before_work(tmp_path):
    cfg = quick_config("enhanced")
    cfg = replace(cfg, model_options={**cfg.model_options, "voice_l2": 0.1})
    with pytest.raises(ConfigError, match="voice_l2 is a prior on the voice head"):
        train_run([{"path": "x.wav", "label": "sad", "split": "train"}], cfg, tmp_path / "r")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_a_run_with_voice_features_learns_predicts_and_exports_to_onnx(tmp_path):
    rows = write_corpus(tmp_path / "audio")
    cfg = quick_config("enhanced", epochs=12)
    cfg = replace(cfg, features=replace(cfg.features, voice=True))
    train_run(rows, cfg, tmp_path / "run", cache_root=tmp_path / "cache")
    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(tmp_path / "run")
    test = [r for r in rows if r["split"] == "test"]  # a speaker it never heard, 8 classes
    report = evaluate_rows(ckpt, test, adapt=False, cache_root=tmp_path / "cache")
    assert report["accuracy"] > 3 / 8, report["confusion"]
    assert ckpt.meta["model_config"]["voice_dims"] == VOICE_DIMS
    assert ckpt.feature_config.voice
    clip = [r["path"] for r in rows if r["split"] == "test"][0]
    out = runner.invoke(
        app, ["predict", clip, "--model", str(tmp_path / "run"), "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    assert '"label"' in out.output
    out = runner.invoke(app, ["export", str(tmp_path / "run"), "--out", str(tmp_path / "m.onnx")])
    assert out.exit_code == 0 and "speaker encoder" in out.output, out.output
    from ser_cli.audio.io import load_audio
    from ser_cli.inference.load import load_predictor

    trained, exported = load_predictor(tmp_path / "run"), load_predictor(tmp_path / "m.onnx")
    for path in [r["path"] for r in test][:4]:
        samples = load_audio(path)
        expected = trained.predict_batch([trained.features(samples)])
        got = exported.predict_batch([exported.features(samples)])
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_voice_features_with_a_model_that_cannot_read_them_are_refused_before_work(tmp_path):
    cfg = quick_config("base")
    cfg = replace(cfg, features=replace(cfg.features, voice=True))
    with pytest.raises(ConfigError, match="features.voice is read by model enhanced only"):
        train_run([{"path": "x.wav", "label": "sad", "split": "train"}], cfg, tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_the_embedding_is_resemblyzers_own():
    """ser computes resemblyzer's mel with torchaudio (librosa's first call costs seconds):
    the embedding must stay the library's."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder, preprocess_wav

    from ser_cli.features.voice import voice_embedding

    for speaker, seconds in ((0, 1.0), (2, 4.0)):
        clip = synth_clip("happy", speaker=speaker, duration=seconds)
        ours = voice_embedding(clip)
        theirs = VoiceEncoder("cpu", verbose=False).embed_utterance(preprocess_wav(clip))
        np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_a_setuptools_without_pkg_resources_is_one_line_not_a_traceback(monkeypatch):
    import sys

    from ser_cli.features import voice

    monkeypatch.setitem(sys.modules, "pkg_resources", None)  # as with setuptools >= 81
    with pytest.raises(ConfigError, match=r"pip install 'setuptools<81'"):
        voice._encoder.__wrapped__()
