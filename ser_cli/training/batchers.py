"""Training batches: what the one training loop (:mod:`ser_cli.training.trainer`) is fed.

A batcher gives each epoch's clip order (:meth:`order`, which the loop shards across ranks and
cuts into batches) and turns a batch of clip indices into numpy arrays x, mask (batch, frames)
and y (batch,) (:meth:`batch`). Two exist:

- :class:`FeatureBatcher`, for models on cached features (log-mel, or a frozen encoder's
  hidden states): random crops, augmentation (log-mel only), normalisation;
- :class:`WaveformBatcher`, for a fine-tuned encoder: 20 ms waveform frames in batches of
  similar length (little padding), randomly cropped; the encoder's own time masking is the
  augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ser_cli.config import AugmentConfig
from ser_cli.features.clips import ClipSet
from ser_cli.features.frames import pad_batch
from ser_cli.features.normalization import Stats
from ser_cli.training.augment import augment_logmel

BUCKET_BATCHES = 20  # WaveformBatcher: batches per length bucket, sorted within, shuffled between
Batch = tuple[np.ndarray, np.ndarray, np.ndarray]  # x, mask, y


@dataclass
class FeatureBatcher:
    """Batches of cached features: the clips in a random order each epoch (each corpus an
    equal share with ``balance``: :func:`epoch_order`); each clip augmented (log-mel only),
    randomly cropped to ``crop_frames`` and normalised by its ``stats`` (its speaker's), or by
    ``global_stats`` with probability ``global_prob``."""

    clips: ClipSet
    stats: list[Stats]
    crop_frames: int
    augment: AugmentConfig | None
    global_stats: Stats
    global_prob: float
    corpora: np.ndarray  # (clips,) int: the corpus of each clip
    balance: bool
    voice_dims: int = 0  # trailing values of each frame that are a voice embedding, not log-mel
    min_batch: int = 2  # batch norm needs two examples: a smaller last batch is skipped

    def order(self, rng: np.random.Generator) -> np.ndarray:
        return epoch_order(rng, self.corpora, self.balance)

    def batch(self, index: np.ndarray, rng: np.random.Generator) -> Batch:
        return train_batch(
            self.clips,
            index,
            self.stats,
            self.crop_frames,
            self.augment,
            rng,
            self.global_stats,
            self.global_prob,
            self.voice_dims,
        )


@dataclass
class WaveformBatcher:
    """Batches of 20 ms waveform frames of similar length (:func:`bucketed_batches` over the
    epoch's clips, each corpus an equal share with ``balance``), each clip randomly cropped to
    ``crop_frames`` frames; no normalisation (the model does it)."""

    clips: ClipSet
    crop_frames: int
    batch_size: int
    corpora: np.ndarray  # (clips,) int: the corpus of each clip
    balance: bool
    min_batch: int = 1  # layer-normed encoders train on a batch of one

    def order(self, rng: np.random.Generator) -> np.ndarray:
        lengths = np.array([f.shape[0] for f in self.clips.features])
        epoch = epoch_order(rng, self.corpora, self.balance)  # one corpus: a plain permutation
        return np.concatenate(bucketed_batches(lengths, self.batch_size, rng, epoch))

    def batch(self, index: np.ndarray, rng: np.random.Generator) -> Batch:
        return crop_batch(self.clips, index, self.crop_frames, rng)


def epoch_order(rng: np.random.Generator, corpora: np.ndarray, balance: bool) -> np.ndarray:
    """One epoch's clip order, as many clips as there are.

    With ``balance`` and several corpora each corpus fills an equal share of the epoch: a
    small corpus's clips are repeated (each shuffled pass in full before the next) and a large
    one's subsampled, so no corpus dominates what the model learns. Otherwise (and always for
    one corpus, drawing exactly as before) a permutation of every clip.
    """
    n_corpora = int(corpora.max()) + 1 if len(corpora) else 0
    if not balance or n_corpora < 2:
        return rng.permutation(len(corpora))
    share = len(corpora) // n_corpora
    parts = []
    for c in range(n_corpora):
        members = np.flatnonzero(corpora == c)
        passes = -(-share // len(members))  # ceil
        parts.append(np.concatenate([rng.permutation(members) for _ in range(passes)])[:share])
    order = np.concatenate(parts)
    return order[rng.permutation(len(order))]


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, order: np.ndarray | None = None
) -> list[np.ndarray]:
    """One epoch of batches of similar length: shuffle (or take ``order``, an epoch's clips
    already shuffled), cut into buckets of BUCKET_BATCHES batches, sort each bucket by length,
    cut it into batches, shuffle the batches. Without ``order``: ceil(len / batch_size)
    batches, every index exactly once."""
    if order is None:
        order = rng.permutation(len(lengths))
    span = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), span):
        bucket = order[start : start + span]
        bucket = bucket[np.argsort(lengths[bucket], kind="stable")]
        batches += [bucket[i : i + batch_size] for i in range(0, len(bucket), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def crop_batch(
    clips: ClipSet, index: np.ndarray, crop_frames: int, rng: np.random.Generator
) -> Batch:
    """Random crops of at most ``crop_frames`` frames, padded to the batch's longest.
    Returns x (batch, frames, WAVE_FRAME), mask (batch, frames), y (batch,)."""
    items = []
    for i in index:
        x = clips.features[i]
        if x.shape[0] > crop_frames:
            start = int(rng.integers(0, x.shape[0] - crop_frames + 1))
            x = x[start : start + crop_frames]
        items.append(np.asarray(x, dtype=np.float32))
    x, mask = pad_batch(items, max(item.shape[0] for item in items))
    return x, mask, clips.labels[index]


def train_batch(
    clips: ClipSet,
    index: np.ndarray,
    stats: list[Stats],
    crop_frames: int,
    augment: AugmentConfig | None,
    rng: np.random.Generator,
    global_stats: Stats | None = None,
    global_prob: float = 0.0,
    voice_dims: int = 0,
):
    """A training batch: random crops, augmentation (log-mel only), normalisation.

    The last ``voice_dims`` values of each frame (a clip's voice embedding, the same on every
    frame) are not log-mel: augmentation leaves them as they are.
    Returns x (batch, [layers,] crop_frames, dims), mask (batch, crop_frames), y (batch,).
    """
    items = []
    for i in index:
        x = clips.features[i].astype(np.float32)
        if augment is not None and x.ndim == 2:
            mel = augment_logmel(x[:, : x.shape[1] - voice_dims], augment, rng)
            if voice_dims:  # speed changes alter the frame count: the embedding follows it
                voice = np.broadcast_to(x[0, -voice_dims:], (len(mel), voice_dims))
                mel = np.concatenate([mel, voice], 1)
            x = mel
        frames = x.shape[-2]
        if frames > crop_frames:
            start = int(rng.integers(0, frames - crop_frames + 1))
            x = x[..., start : start + crop_frames, :]
        use_global = global_stats is not None and rng.random() < global_prob
        items.append((global_stats if use_global else stats[i]).apply(x))
    x, mask = pad_batch(items, crop_frames)
    return x, mask, clips.labels[index]
