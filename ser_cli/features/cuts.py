"""Short cuts of a clip's speech, each with the voice embedding of its own audio.

A user's single word or short reply is a short clip, and its voice embedding is computed from
that short clip: noisier than a whole sentence's. ``train.short_cut_prob`` trains on such
cuts: a share of training examples is one of a clip's CUTS cuts (log-mel frames from the
cached features, the embedding computed from the cut's samples as ``ser predict`` would compute
a short clip's) instead of a 2 s crop with the whole clip's embedding.

Each clip's cuts sit at seeded random places in the speech span its cached features hold
(the same seed for the same file), between SHORT_FRAMES and ``crop_frames`` long, and are
cached on disk beside the features as .npy (never pickle): (CUTS, 2 + VOICE_DIMS) float32 rows
of first frame, frame count and embedding.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ser_cli.audio.io import load_audio
from ser_cli.features.extract import FeatureCache, FeatureConfig, speech_frames
from ser_cli.features.voice import VOICE_DIMS, voice_embedding
from ser_cli.progress import Progress

CUTS = 4  # cuts kept per clip: a short example of each clip is drawn from these
SHORT_FRAMES = 50  # the shortest cut: 0.5 s of 10 ms frames


def clip_cuts(
    samples: np.ndarray, cfg: FeatureConfig, crop_frames: int, rng: np.random.Generator
) -> np.ndarray:
    """(CUTS, 2 + VOICE_DIMS) float32: each cut's first frame and frame count in the clip's
    cached features (its speech span when ``cfg.trim_silence``), then the cut's voice embedding.
    ``samples``: (n,) float32 at 16 kHz, the audio the features were computed from."""
    span, total = speech_frames(samples, cfg)
    first, frames = span.start or 0, len(range(total)[span])
    hop = cfg.hop_length
    rows = np.zeros((CUTS, 2 + VOICE_DIMS), dtype=np.float32)
    for row in rows:
        length = int(rng.integers(min(SHORT_FRAMES, frames), min(crop_frames, frames) + 1))
        start = int(rng.integers(0, frames - length + 1))
        row[0], row[1] = start, length
        row[2:] = voice_embedding(samples[(first + start) * hop : (first + start + length) * hop])
    return rows


class CutCache(FeatureCache):
    """Each file's :func:`clip_cuts`, on disk beside its features (same key, same checks)."""

    def __init__(self, root, cfg: FeatureConfig, crop_frames: int):
        self.crop_frames = crop_frames
        super().__init__(root, cfg)

    def _folder_name(self) -> str:
        return f"cuts{CUTS}x{self.crop_frames}-{self.cfg.key()}"

    def _compute(self, audio_path: Path) -> np.ndarray:
        # seeded by the file's identity: the same cuts whichever run or rank computes them
        seed = int(hashlib.sha1(self._path_for(audio_path).name.encode()).hexdigest()[:8], 16)
        rng = np.random.default_rng(seed)
        return clip_cuts(load_audio(audio_path), self.cfg, self.crop_frames, rng)

    def _sane(self, cuts) -> bool:
        return (
            isinstance(cuts, np.ndarray)
            and cuts.shape == (CUTS, 2 + VOICE_DIMS)
            and cuts.dtype == np.float32
            and bool(np.all(np.isfinite(cuts)))
            and bool(np.all(cuts[:, 1] >= 1))
        )


def load_cuts(
    paths: list[str],
    cfg: FeatureConfig,
    crop_frames: int,
    *,
    cache_root=None,
    on_progress: Progress | None = None,
) -> list[np.ndarray]:
    """Every clip's cuts, through the on-disk cache (computed on first use)."""
    cache = CutCache(cache_root, cfg, crop_frames)
    cuts = []
    for done, path in enumerate(paths, start=1):
        cuts.append(cache.get(path))
        if on_progress:
            on_progress(done, len(paths), "short cuts")
    return cuts
