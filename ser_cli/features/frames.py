"""Frame arrays cut and stacked: the centre crop and the padded, masked batch.

Both the training batchers and the one inference path (:mod:`ser_cli.inference.batch`) build
on these, so a clip is cropped and padded the same way wherever it goes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def centre_crop(x: np.ndarray, length: int, axis: int = -2) -> np.ndarray:
    """The middle ``length`` entries of ``x`` along ``axis`` (default: the frames of
    (..., frames, dims) features); anything shorter is returned unchanged."""
    size = x.shape[axis]
    if size <= length:
        return x
    cut = (size - length) // 2
    return np.take(x, np.arange(cut, cut + length), axis=axis)


def pad_batch(items: Sequence[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack clips (each (..., frames, dims)) zero-padded in time to ``length`` frames.

    Returns x (batch, ..., length, dims) float32 and mask (batch, length), True on real frames.
    """
    shape = items[0].shape
    batch = np.zeros((len(items), *shape[:-2], length, shape[-1]), dtype=np.float32)
    mask = np.zeros((len(items), length), dtype=bool)
    for i, item in enumerate(items):
        n = min(item.shape[-2], length)
        batch[i, ..., :n, :] = item[..., :n, :]
        mask[i, :n] = True
    return batch, mask
