"""Training batches: what the one training loop (:mod:`ser_cli.training.trainer`) is fed."""

from __future__ import annotations

import numpy as np

from ser_cli.config import AugmentConfig
from ser_cli.features.clips import ClipSet
from ser_cli.features.frames import pad_batch
from ser_cli.features.normalization import Stats
from ser_cli.training.augment import augment_logmel


def train_batch(
    clips: ClipSet,
    index: np.ndarray,
    stats: list[Stats],
    crop_frames: int,
    augment: AugmentConfig | None,
    rng: np.random.Generator,
    global_stats: Stats | None = None,
    global_prob: float = 0.0,
):
    """A training batch: random crops, augmentation (log-mel only), normalisation.

    Returns x (batch, [layers,] crop_frames, dims), mask (batch, crop_frames), y (batch,).
    """
    items = []
    for i in index:
        x = clips.features[i].astype(np.float32)
        if augment is not None and x.ndim == 2:
            x = augment_logmel(x, augment, rng)
        frames = x.shape[-2]
        if frames > crop_frames:
            start = int(rng.integers(0, frames - crop_frames + 1))
            x = x[..., start : start + crop_frames, :]
        use_global = global_stats is not None and rng.random() < global_prob
        items.append((global_stats if use_global else stats[i]).apply(x))
    x, mask = pad_batch(items, crop_frames)
    return x, mask, clips.labels[index]
