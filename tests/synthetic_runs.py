"""Helpers for tests that train: a small separable synthetic corpus and quick run configs."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from ser_cli.audio.io import write_audio
from ser_cli.audio.synthetic import synth_clip
from ser_cli.config import TrainConfig, load_run_config
from ser_cli.features.extract import FeatureConfig
from ser_cli.features.normalization import Stats
from ser_cli.labels import EMOTIONS

SPEAKERS = 6  # 0-3 train, 4 val, 5 test
REPEATS = 2
MAX_EVAL_FRAMES = 300  # small, so a 4.5 s clip is centre-cut
SPLIT_OF_SPEAKER = {0: "train", 1: "train", 2: "train", 3: "train", 4: "val", 5: "test"}

# Small but unchanged architectures: the registry classes with narrower options.
# A speech encoder small enough to build, save and fine-tune in a test (wav2vec2-shaped:
# HuBERT, WavLM and the ForSequenceClassification heads take the same arguments).
TINY_ENCODER = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    conv_dim=(32, 32, 32),
    conv_stride=(5, 4, 4),
    conv_kernel=(10, 8, 4),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
)
SMALL_OPTIONS = {
    "base": {"channels": [8, 16], "rnn_hidden": 16},
    "enhanced": {"channels": [8, 16, 16]},
    "ultimate": {"dims": 32, "layers": 2, "heads": 2},
    "simplified": {"dims": 32, "heads": 8},
    "classic": {},
}


def write_corpus(root: Path, emotions=EMOTIONS, duration: float = 1.0) -> list[dict]:
    """RAVDESS-named synthetic clips and their manifest rows (split by speaker)."""
    rows = []
    for speaker in range(SPEAKERS):
        for _e, emotion in enumerate(emotions):
            for rep in range(REPEATS):
                name = f"03-01-{EMOTIONS.index(emotion) + 1:02d}-01-01-{rep + 1:02d}-{speaker + 1:02d}.wav"
                path = write_audio(
                    root / f"Actor_{speaker + 1:02d}" / name,
                    synth_clip(emotion, speaker, duration=duration, seed=rep),
                )
                rows.append(
                    {
                        "path": str(path),
                        "label": emotion,
                        "speaker": f"{speaker + 1:02d}",
                        "split": SPLIT_OF_SPEAKER[speaker],
                        "gender": "male" if speaker % 2 == 0 else "female",
                    }
                )
    return rows


def quick_config(model: str, epochs: int = 4, **train):
    sets = [
        f"train.epochs={epochs}",
        "train.batch_size=8",
        "train.crop_frames=80",
        "train.lr=0.003",
    ]
    # Lighter augmentation than the real recipe: 64 clips and a few epochs leave no room for it.
    sets += [
        "train.augment.time_mask_width=5",
        "train.augment.freq_mask_width=4",
        "train.augment.speed_prob=0.2",
    ]
    sets += [f"train.{k}={v}" for k, v in train.items()]
    cfg = load_run_config(None, sets, model=model)
    from dataclasses import replace

    return replace(cfg, model_options=SMALL_OPTIONS.get(model, {}))


def make_run(
    root: Path,
    model: str,
    seed: int = 0,
    *,
    stats_seed: int | None = None,
    name: str | None = None,
    options: dict | None = None,
    voice: bool = False,
) -> Path:
    """A run folder holding a randomly initialised small model (no training needed for parity).

    The head's weights are scaled up so its probabilities are far from uniform, and the
    statistics are not the identity, so a missed normalisation would show. Runs that share
    ``stats_seed`` (default: ``seed``) share statistics, as runs on one training set do.
    ``options`` are model options over the small ones. ``voice``: features.voice, with the
    voice head's weights scaled up too and statistics on the embedding's scale, so a wrong
    embedding moves the probabilities.
    """
    import torch

    from ser_cli.models import build_model, model_config
    from ser_cli.models.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    features = FeatureConfig(voice=voice)
    bands = features.n_mels
    opts = {**SMALL_OPTIONS[model], **(options or {})}
    extra = {"voice_dims": features.voice_dims} if voice else {}
    cfg = model_config(model, opts, n_features=features.dims, n_classes=len(EMOTIONS), **extra)
    net = build_model(model, cfg).eval()
    with torch.no_grad():
        last = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight.mul_(40.0)
        if voice:  # sharp enough to move with the embedding, not so sharp that it saturates
            net.voice[-1].weight.mul_(5.0)
    rng = np.random.default_rng(seed if stats_seed is None else stats_seed)
    mean = rng.normal(-6.0, 1.0, bands)
    std = rng.uniform(1.5, 3.0, bands)
    if voice:  # unit-length embeddings of non-negative values: a few hundredths each
        mean = np.concatenate([mean, rng.uniform(0.03, 0.08, features.voice_dims)])
        std = np.concatenate([std, rng.uniform(0.02, 0.05, features.voice_dims)])
    stats = Stats(mean.astype(np.float32), std.astype(np.float32))
    train = asdict(TrainConfig())
    train.update(max_eval_frames=MAX_EVAL_FRAMES, normalization="speaker")
    meta = {
        "model": model,
        "model_config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
        "feature_config": features.to_dict(),
        "labels": list(EMOTIONS),
        "train_config": train,
    }
    run = root / (name or f"run-{model}")
    run.mkdir(parents=True)
    save_checkpoint(run, "best", net, meta, stats)
    return run


def mark_trained(run: Path, epoch: int | None = None) -> Path:
    """Give a :func:`make_run` folder the ``last`` sidecar `ser train` leaves: at its
    schedule's last epoch (a finished run), or at ``epoch`` (a run killed there)."""
    import json

    meta = json.loads((run / "best.json").read_text())
    meta["epoch"] = meta["train_config"]["epochs"] if epoch is None else epoch
    (run / "last.json").write_text(json.dumps(meta))
    return run


def check_predictor(predictor) -> None:
    """``predictor`` has every attribute of the Predictor protocol, with the declared types."""
    import inspect

    from ser_cli.inference.protocol import Predictor

    # every member the protocol declares, looked up without running it (vad loads a model)
    members = [m for m in dir(Predictor) if not m.startswith("_")] + list(Predictor.__annotations__)
    missing = [m for m in members if not _has_static(predictor, m, inspect)]
    assert not missing, missing
    assert isinstance(predictor.labels, tuple) and all(isinstance(x, str) for x in predictor.labels)
    assert isinstance(predictor.batch_size, int) and predictor.batch_size >= 1
    assert isinstance(predictor.max_seconds, float) and predictor.max_seconds > 0
    assert predictor.global_stats is None or isinstance(predictor.global_stats, Stats)
    assert isinstance(predictor.meta, dict) and isinstance(predictor.warnings, list)
    assert isinstance(predictor.uses_speaker_stats(), bool)


def _has_static(obj, name: str, inspect) -> bool:
    try:
        inspect.getattr_static(obj, name)
    except AttributeError:
        return False
    return True


def small_run(root: Path, emotions=("happy", "sad")) -> tuple[list[dict], Path, Path]:
    """24 half-second clips of two emotions, their manifest, and a trained classic run."""
    from ser_cli.data.manifest import write_manifest
    from ser_cli.training.trainer import train_run

    rows = write_corpus(root / "audio", emotions=emotions, duration=0.5)
    manifest = write_manifest(rows, root / "manifest.csv")
    run = root / "run"
    train_run(rows, quick_config("classic"), run, cache_root=root / "cache")
    return rows, manifest, run
