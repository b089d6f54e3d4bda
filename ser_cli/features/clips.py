"""Clips in memory: features, labels and speakers, read through the feature cache.

Training batches are made by :mod:`ser_cli.training.batchers`, evaluation batches by
:mod:`ser_cli.inference.batch`, the one inference path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ser_cli.errors import ManifestError
from ser_cli.features.extract import FeatureCache, FeatureConfig
from ser_cli.features.normalization import Stats, group_stats
from ser_cli.progress import Progress


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
