"""Augmentation on cached log-mel frames, so training never recomputes features.

Each waveform augmentation has a log-mel equivalent: gain is an offset, white noise at a
given SNR adds power in every band, a speed change resamples frames in time, and a random crop
is a time shift. SpecAugment masks go on top. All take and return (frames, bands) float32
arrays. (Pitch shifts, rooms, spectral tilt, band-limiting and mixup were measured and not
kept; they left with their code.)

Working on cached frames keeps an epoch as cheap as reading them: a waveform library
(audiomentations) would need the features recomputed for every augmented copy, minutes per
epoch on 2 CPU cores.
"""

from __future__ import annotations

import numpy as np

from ser_cli.config import AugmentConfig

DB_TO_LOG = np.log(10.0) / 10.0  # a power ratio in dB times this is a natural-log offset


def augment_logmel(x: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """One random augmentation of a log-mel clip. (frames, bands) -> (frames', bands)."""
    x = x.copy()
    if cfg.speed_prob and rng.random() < cfg.speed_prob:
        x = change_speed(x, rng.uniform(*cfg.speed_range))
    if cfg.gain_db:
        x += rng.uniform(-cfg.gain_db, cfg.gain_db) * DB_TO_LOG
    if cfg.noise_prob and rng.random() < cfg.noise_prob:
        x = add_noise(x, rng.uniform(*cfg.snr_db), rng)
    return spec_augment(x, cfg, rng)


def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster: linear interpolation of frames along time."""
    frames = x.shape[0]
    new_frames = max(2, int(round(frames / factor)))
    src = np.linspace(0, frames - 1, new_frames)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, frames - 1)
    frac = (src - lo)[:, None].astype(np.float32)
    return (x[lo] * (1 - frac) + x[hi] * frac).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white-ish noise at ``snr_db`` below the clip's mean power, in the power domain."""
    power = np.exp(x)
    noise_level = power.mean() / (10.0 ** (snr_db / 10.0))
    # Noise power fluctuates frame to frame like a chi-square with a few degrees of freedom.
    noise = noise_level * rng.gamma(4.0, 0.25, size=x.shape)
    return np.log(power + noise).astype(np.float32)


def spec_augment(x: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """SpecAugment: zero (the normalised mean) random frequency bands and time spans."""
    frames, bands = x.shape
    fill = float(x.mean())
    for _ in range(cfg.freq_masks):
        width = int(rng.integers(0, cfg.freq_mask_width + 1))
        start = int(rng.integers(0, max(1, bands - width)))
        x[:, start : start + width] = fill
    for _ in range(cfg.time_masks):
        width = int(rng.integers(0, min(cfg.time_mask_width, frames // 4) + 1))
        start = int(rng.integers(0, max(1, frames - width)))
        x[start : start + width] = fill
    return x
