"""One inference path: padding never changes a clip's probabilities, and eval, predict and the
streaming pipeline give the same numbers on the same clips."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ser_cli.audio.io import SAMPLE_RATE, load_audio, write_audio
from ser_cli.audio.synthetic import synth_clip
from ser_cli.config import RunConfig
from ser_cli.features.extract import FeatureConfig
from ser_cli.features.normalization import Stats
from ser_cli.inference.batch import centre_crop, iter_batches, probabilities
from ser_cli.inference.evaluate import evaluate_rows
from ser_cli.inference.load import load_predictor
from ser_cli.inference.predictor import predict_files
from ser_cli.labels import EMOTIONS
from ser_cli.listen.stream import ListenOptions, StreamProcessor
from ser_cli.models import build_model, model_config
from ser_cli.models.checkpoint import load_checkpoint, save_checkpoint

TOLERANCE = 1e-5  # probabilities agree to this, whatever the batch and padding
LENGTHS = (3, 17, 40, 81, 130)  # frames: shorter than every pooling factor, odd, cropped
MAX_FRAMES = 120  # longer clips are centre-cropped
BANDS = 32  # mel bands: fewer than the default 64 keeps the tests fast
SMALL = {
    "base": {"channels": [8, 16], "rnn_hidden": 16},
    "enhanced": {"channels": [8, 16, 16, 16]},
    "ultimate": {"dims": 32, "layers": 2, "heads": 2},
    "simplified": {"dims": 32, "heads": 8},
    "classic": {},
}


def _random_model(name: str, n_features: int = BANDS, **extra):
    """A registry model with random weights and random batch-norm statistics: an untrained
    model's zero means and unit variances would hide a leak through batch norm."""
    torch.manual_seed(0)
    model = build_model(name, model_config(name, SMALL.get(name, {}), n_features=n_features,
                                           n_classes=len(EMOTIONS), **extra))  # fmt: skip
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize("name", [*SMALL, "ssl"])
def test_a_clip_gets_the_same_probabilities_alone_and_padded_in_a_batch(name):
    rng = np.random.default_rng(0)
    if name == "ssl":
        model = _random_model(name, n_features=16, n_layers=3)
        feats = [rng.standard_normal((3, n, 16)).astype(np.float32) for n in LENGTHS]
        stats = [Stats(np.zeros((3, 16), np.float32), np.ones((3, 16), np.float32))] * len(feats)
    else:
        model = _random_model(name)
        feats = [rng.standard_normal((n, BANDS)).astype(np.float32) for n in LENGTHS]
        stats = [Stats(np.zeros(BANDS, np.float32), np.ones(BANDS, np.float32))] * len(feats)
    batched = probabilities(model, feats, stats, max_frames=MAX_FRAMES, batch_size=len(feats))
    alone = np.concatenate(
        [
            probabilities(model, [f], [s], max_frames=MAX_FRAMES)
            for f, s in zip(feats, stats, strict=True)
        ]
    )
    np.testing.assert_allclose(batched, alone, atol=TOLERANCE)
    pairs = probabilities(model, feats, stats, max_frames=MAX_FRAMES, batch_size=2)
    np.testing.assert_allclose(pairs, alone, atol=TOLERANCE)
    assert not np.allclose(alone[0], alone[-1], atol=1e-3)  # the clips really differ


def test_batches_centre_crop_normalise_and_mask():
    feats = [np.full((n, 2), float(n), np.float32) for n in (5, 12, 3)]
    feats[1][:, 0] = np.arange(12)
    stats = [Stats(np.ones(2, np.float32), np.full(2, 2.0, np.float32))] * 3
    batches = list(iter_batches(feats, stats, batch_size=2, max_frames=8, min_frames=4))
    (x0, m0, i0), (x1, m1, i1) = batches
    assert list(i0) == [2, 0] and list(i1) == [1]  # shortest first
    assert x0.shape == (2, 5, 2) and m0.tolist() == [[1, 1, 1, 0, 0], [1] * 5]
    np.testing.assert_allclose(x0[0, :3], (3.0 - 1) / 2)
    assert (x0[0, 3:] == 0).all()
    assert x1.shape == (1, 8, 2) and m1.all()  # 12 frames centre-cropped to 8: frames 2..9
    np.testing.assert_allclose(x1[0, :, 0], (np.arange(2, 10) - 1) / 2)
    assert centre_crop(feats[0], 8) is feats[0]
    assert centre_crop(np.arange(10), 4, axis=-1).tolist() == [3, 4, 5, 6]  # audio samples


# --- eval, predict and listen on the same clips ---------------------------------------------


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run folder holding an untrained 'enhanced' model (random weights): cheaper than
    training and just as good a test of the inference path. Clips over 1.2 s are cropped."""
    root = tmp_path_factory.mktemp("infer_run")
    cfg = RunConfig(model="enhanced")
    train = {**asdict(cfg.train), "max_eval_frames": MAX_FRAMES, "batch_size": 4}
    model = _random_model("enhanced")
    meta = {
        "model": "enhanced",
        "model_config": asdict(model.cfg),
        "feature_config": FeatureConfig(n_mels=BANDS).to_dict(),
        "labels": list(EMOTIONS),
        "train_config": train,
    }
    rng = np.random.default_rng(1)
    stats = Stats(
        rng.normal(-8, 1, BANDS).astype(np.float32), rng.uniform(1, 3, BANDS).astype(np.float32)
    )
    save_checkpoint(root, "best", model, meta, stats)
    return root


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[dict]:
    """Manifest rows of clips from 0.4 s to 1.6 s, two speakers, one folder per speaker."""
    root = tmp_path_factory.mktemp("infer_clips")
    rows = []
    for i, seconds in enumerate((0.4, 0.9, 1.6, 0.7, 1.3, 1.1)):
        speaker = f"s{i % 2}"
        emotion = EMOTIONS[i % len(EMOTIONS)]
        path = write_audio(
            root / speaker / f"{i}_{emotion}.wav",
            synth_clip(emotion, i % 2, duration=seconds, seed=i),
        )
        rows.append({"path": str(path), "label": emotion, "speaker": speaker, "split": "test"})
    return rows


def _eval_probs(report: dict) -> np.ndarray:
    return np.array([list(p["probabilities"].values()) for p in report["predictions"]])


def _predict_probs(results) -> np.ndarray:
    return np.array([list(r.probabilities.values()) for r in results])


@pytest.mark.parametrize("adapt", [False, True])
def test_eval_and_predict_agree_file_by_file(run_dir, clips, tmp_path, adapt):
    report = evaluate_rows(
        load_checkpoint(run_dir), clips, adapt=adapt, per_file=True, cache_root=tmp_path
    )
    predictor = load_predictor(run_dir)
    predictor.batch_size = 3  # different batches from eval's 4
    paths = [Path(r["path"]) for r in clips]
    # A window longer than every clip: each is classified whole (and centre-cropped), as in eval.
    results = predict_files(predictor, paths, window=3.0, adapt="folder" if adapt else "none")
    np.testing.assert_allclose(_eval_probs(report), _predict_probs(results), atol=TOLERANCE)
    assert [p["predicted"] for p in report["predictions"]] == [r.label for r in results]
    assert report["adapted"] == adapt
    assert [p["path"] for p in report["predictions"]] == [r["path"] for r in clips]


def test_the_streaming_pipeline_on_a_whole_clip_matches_predict(run_dir, clips):
    predictor = load_predictor(run_dir)
    predictor.vad = SimpleNamespace(
        speech_fraction=lambda samples: 1.0, is_speech=lambda s: True, has_speech=lambda s: True
    )
    paths = [Path(r["path"]) for r in clips]
    expected = _predict_probs(predict_files(predictor, paths, window=3.0))
    for path, want in zip(paths, expected, strict=True):
        audio = load_audio(path)
        seconds = audio.size / SAMPLE_RATE  # one hop, one window: exactly the whole clip
        processor = StreamProcessor(
            predictor, ListenOptions(window=seconds, hop=seconds, adapt=False, threads=0)
        )
        [update] = processor.push(audio)
        np.testing.assert_allclose(update.probabilities, want, atol=TOLERANCE)


def test_inference_never_imports_the_trainer():
    package = Path(__file__).resolve().parents[1] / "ser_cli" / "inference"
    for module in package.glob("*.py"):
        assert "ser_cli.training" not in module.read_text(), module.name


def test_a_newer_checkpoint_format_is_refused(run_dir, tmp_path):
    import json
    import shutil

    from ser_cli.errors import ModelError

    copy = shutil.copytree(run_dir, tmp_path / "run")
    sidecar = json.loads((copy / "best.json").read_text())
    assert sidecar["format_version"] == 1
    (copy / "best.json").write_text(json.dumps({**sidecar, "format_version": 2}))
    with pytest.raises(ModelError, match="newer ser .checkpoint format 2"):
        load_checkpoint(copy)
