"""Feature normalisation statistics: per speaker (unlabelled adaptation) or global.

Speaker normalisation z-scores each feature with the mean and standard deviation of all
frames of that speaker's clips. It needs no labels, only to know which clips share a
speaker — from the manifest's speaker column, from the user (``ser predict --adapt``), or
inferred (one microphone stream is one speaker in ``ser listen``). Without any of these the
global statistics of the training data are used.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

NORMALIZATIONS = (
    "speaker",
    "global",
)  # train.normalization: each speaker's statistics, or the data's
STD_FLOOR = 1e-3  # keeps near-constant features (e.g. masked bands) from blowing up


@dataclass(frozen=True)
class Stats:
    """Mean and standard deviation over frames; shape (dims,) or (layers, dims)."""

    mean: np.ndarray
    std: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean[..., None, :]) / self.std[..., None, :]).astype(np.float32)


def frame_stats(clips: list[np.ndarray]) -> Stats:
    """Pooled statistics of every frame of ``clips`` (each (time, dims) or (layers, time, dims))."""
    frames = np.concatenate([c.astype(np.float32) for c in clips], axis=-2)
    mean = frames.mean(axis=-2)
    std = np.maximum(frames.std(axis=-2), STD_FLOOR)
    return Stats(mean.astype(np.float32), std.astype(np.float32))


def group_stats(clips: list[np.ndarray], groups: list[str]) -> dict[str, Stats]:
    """Statistics of each group (speaker) of clips."""
    members: dict[str, list[np.ndarray]] = defaultdict(list)
    for clip, group in zip(clips, groups, strict=False):
        members[group].append(clip)
    return {group: frame_stats(items) for group, items in members.items()}


class RunningStats:
    """Exponentially weighted frame statistics, for adapting to one live speaker.

    Each update's frames get ``weight`` of the statistics: their mean and their variance
    around it. That misses what differs between updates only, which for frame features (a
    hop's log-mel) is little, but is everything for the last ``clip_dims`` values of a frame:
    one value per clip, the same on every frame (the voice embedding), whose variance within
    an update is zero, so their deviation would be divided by STD_FLOOR (z-scores 30-50
    times those in training, on a stream of one RAVDESS actor). For those dims the variance
    starts at the prior's (a speaker's spread is unknown before it is heard; one RAVDESS
    actor's median is 0.034 against the corpus's 0.041) and adds each update's distance from
    the running mean, as an exponentially weighted variance does.
    """

    def __init__(
        self, prior: Stats, weight: float = 0.02, min_frames: int = 300, clip_dims: int = 0
    ):
        self.prior = prior
        self.weight = weight  # share of the update given to each new batch of frames
        self.min_frames = min_frames  # frames seen before the running stats replace the prior
        self.clip_dims = clip_dims  # trailing dims holding one value per clip (see above)
        self.mean = prior.mean.astype(np.float64).copy()
        self.var = prior.std.astype(np.float64) ** 2
        self.frames = 0

    def update(self, frames: np.ndarray) -> None:
        """Fold (time, dims) speech frames into the running statistics."""
        if frames.shape[-2] == 0:
            return
        clip = slice(self.mean.shape[-1] - self.clip_dims, None)
        previous = self.mean[..., clip].copy()
        if self.frames == 0:
            self.mean = frames.mean(axis=-2)
            self.var = frames.var(axis=-2)
            self.var[..., clip] = self.prior.std[..., clip].astype(np.float64) ** 2
        else:
            w = self.weight
            self.mean = (1 - w) * self.mean + w * frames.mean(axis=-2)
            self.var = (1 - w) * self.var + w * frames.var(axis=-2)
            step = frames[..., clip].mean(axis=-2) - previous
            self.var[..., clip] += w * (1 - w) * step**2
        self.frames += frames.shape[-2]

    def current(self) -> Stats:
        if self.frames < self.min_frames:
            return self.prior
        std = np.maximum(np.sqrt(self.var), STD_FLOOR)
        return Stats(self.mean.astype(np.float32), std.astype(np.float32))
