"""The one path from clip features to probabilities, shared by predict, listen, eval and training.

Every clip is centre-cropped to the model's longest input, normalised by its own statistics,
and the clips are padded into batches with a validity mask. The models are mask-correct
(padded frames never reach a valid one), so a clip gets the same probabilities alone or
padded in any batch; clips are grouped by length only because padding costs time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ser_cli.features.frames import centre_crop, pad_batch
from ser_cli.features.normalization import Stats

BATCH_SIZE = 32  # clips per forward pass when the caller does not say


def iter_batches(
    feats: Sequence[np.ndarray],
    stats: Sequence[Stats],
    batch_size: int,
    max_frames: int,
    min_frames: int = 1,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Whole clips, centre-cropped to ``max_frames`` and normalised, in batches of similar length.

    Each batch is padded to its longest clip, and to at least ``min_frames`` (a model that
    pools time needs that many frames). Yields (x, mask, index): index (batch,) says which
    clips of ``feats`` the rows are.
    """
    order = np.argsort([min(f.shape[-2], max_frames) for f in feats], kind="stable")
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        items = [stats[i].apply(centre_crop(feats[i], max_frames)) for i in index]
        length = max(min_frames, *(item.shape[-2] for item in items))
        x, mask = pad_batch(items, length)
        yield x, mask, index


def probabilities(
    model,
    feats: Sequence[np.ndarray],
    stats: Sequence[Stats],
    *,
    max_frames: int,
    batch_size: int = BATCH_SIZE,
    device: str | None = None,
    temperature: float = 1.0,
) -> np.ndarray:
    """Softmax probabilities of every clip, shape (clips, classes), in the order of ``feats``.

    Args:
        model: a registry model (``forward(x, mask) -> logits``); it is put in eval mode.
        feats: per clip (frames, dims), or (layers, frames, dims) for ssl.
        stats: the normalisation statistics of each clip (its speaker's or the training data's).
        max_frames: longer clips are centre-cropped to this many frames.
        temperature: logits are divided by it before the softmax (the checkpoint's calibration).
    """
    import torch

    if len(feats) != len(stats):
        raise ValueError(f"{len(feats)} clips but {len(stats)} statistics")
    model.eval()
    if device is None:
        device = next(model.parameters()).device
    min_frames = getattr(model, "factor", 1)  # CNNs halve time once per block
    out: np.ndarray | None = None
    with torch.no_grad():
        for x, mask, index in iter_batches(feats, stats, batch_size, max_frames, min_frames):
            logits = model(torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device))
            probs = torch.softmax(logits.float() / temperature, dim=-1).cpu().numpy()
            if out is None:
                out = np.zeros((len(feats), probs.shape[1]), dtype=np.float32)
            out[index] = probs
    if out is None:  # no clips
        n_classes = getattr(getattr(model, "cfg", None), "n_classes", 0)
        return np.zeros((0, n_classes), dtype=np.float32)
    return out
