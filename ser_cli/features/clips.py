"""Clips in memory (features, labels, speakers) and the training batches made from them.

Evaluation batches are made by :mod:`ser_cli.inference.batch`, the one inference path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ser_cli.config import AugmentConfig
from ser_cli.errors import ManifestError
from ser_cli.features.extract import FeatureCache, FeatureConfig
from ser_cli.features.normalization import Stats, group_stats
from ser_cli.inference.batch import pad_batch
from ser_cli.progress import Progress
from ser_cli.training.augment import augment_logmel


@dataclass
class ClipSet:
    """Features of a list of clips, with labels (-1 where unknown) and speaker groups."""

    features: list[np.ndarray]  # each (time, dims), or (layers, time, dims) for ssl
    labels: np.ndarray  # (clips,) int class indices
    groups: list[str]  # speaker of each clip, for speaker normalisation
    paths: list[str]

    def __len__(self) -> int:
        return len(self.features)

    def subset(self, index) -> ClipSet:
        index = list(index)
        return ClipSet(
            [self.features[i] for i in index],
            self.labels[index],
            [self.groups[i] for i in index],
            [self.paths[i] for i in index],
        )


def load_clips(
    rows: list[dict],
    feature_cfg: FeatureConfig,
    labels: tuple[str, ...],
    *,
    cache_root=None,
    on_progress: Progress | None = None,
) -> ClipSet:
    """Features for manifest rows, through the on-disk cache."""
    cache = FeatureCache(cache_root, feature_cfg)
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({r["label"] for r in rows if r["label"] not in index})
    if unknown:
        raise ManifestError(
            f"the data has label(s) {', '.join(unknown)} that the model does not know (it knows: {', '.join(labels)})."
        )
    feats = []
    for done, row in enumerate(rows, start=1):
        feats.append(cache.get(row["path"]))
        if on_progress:
            on_progress(done, len(rows), "features")
    return ClipSet(
        feats,
        np.array([index[r["label"]] for r in rows], dtype=np.int64),
        [r.get("speaker") or "unknown" for r in rows],
        [r["path"] for r in rows],
    )


def clip_stats(
    clips: ClipSet, normalization: str, global_stats: Stats, adapt: bool = True
) -> list[Stats]:
    """The normalisation statistics each clip uses: its speaker's when adapting, else global."""
    if normalization == "speaker" and adapt:
        per_group = group_stats(clips.features, clips.groups)
        return [per_group[g] for g in clips.groups]
    return [global_stats] * len(clips)


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
