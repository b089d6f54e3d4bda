"""Augmentation on cached log-mel frames, so training never recomputes features.

Each waveform augmentation has a log-mel equivalent: gain is an offset, white noise at a
given SNR adds power in every band, a speed change resamples frames in time, a small pitch
shift moves energy along the mel axis, and a random crop is a time shift. A room adds a decaying
tail of power to every band (a reverberation time's exponential decay, in the power domain); a
microphone's colouring tilts the spectrum; a telephone or cheap microphone removes the lowest
and highest bands. SpecAugment masks go on
top. All take and return (frames, bands) float32 arrays; :func:`mixup` mixes whole batches.

Working on cached frames keeps an epoch as cheap as reading them: a waveform library
(audiomentations) would need the features recomputed for every augmented copy, minutes per
epoch on 2 CPU cores.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from ser_cli.config import AugmentConfig

DB_TO_LOG = np.log(10.0) / 10.0  # a power ratio in dB times this is a natural-log offset
FRAME_SECONDS = 0.01  # the log-mel hop (160 samples at 16 kHz)
BAND_STOP_DB = 40.0  # how far band-limiting pushes the removed bands down


def augment_logmel(x: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """One random augmentation of a log-mel clip. (frames, bands) -> (frames', bands)."""
    x = x.copy()
    if cfg.speed_prob and rng.random() < cfg.speed_prob:
        x = change_speed(x, rng.uniform(*cfg.speed_range))
    if cfg.pitch_prob and rng.random() < cfg.pitch_prob and cfg.pitch_bands:
        x = shift_bands(x, int(rng.integers(-cfg.pitch_bands, cfg.pitch_bands + 1)))
    if cfg.gain_db:
        x += rng.uniform(-cfg.gain_db, cfg.gain_db) * DB_TO_LOG
    if cfg.reverb_prob and rng.random() < cfg.reverb_prob:
        x = add_reverb(x, rng.uniform(*cfg.rt60), rng.uniform(*cfg.drr_db))
    if cfg.tilt_db:
        x += np.linspace(-1.0, 1.0, x.shape[1], dtype=np.float32) * (
            rng.uniform(-cfg.tilt_db, cfg.tilt_db) * DB_TO_LOG
        )
    if cfg.band_limit_prob and rng.random() < cfg.band_limit_prob:
        x = band_limit(x, rng.uniform(0.0, 0.1), rng.uniform(*cfg.band_keep))
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


def shift_bands(x: np.ndarray, bands: int) -> np.ndarray:
    """Shift energy up (bands > 0) or down the mel axis, repeating the edge band."""
    if bands == 0:
        return x
    if bands > 0:
        return np.concatenate([np.repeat(x[:, :1], bands, axis=1), x[:, :-bands]], axis=1)
    return np.concatenate([x[:, -bands:], np.repeat(x[:, -1:], -bands, axis=1)], axis=1)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white-ish noise at ``snr_db`` below the clip's mean power, in the power domain."""
    power = np.exp(x)
    noise_level = power.mean() / (10.0 ** (snr_db / 10.0))
    # Noise power fluctuates frame to frame like a chi-square with a few degrees of freedom.
    noise = noise_level * rng.gamma(4.0, 0.25, size=x.shape)
    return np.log(power + noise).astype(np.float32)


def add_reverb(x: np.ndarray, rt60: float, drr_db: float) -> np.ndarray:
    """A room: each frame's power decays by 60 dB over ``rt60`` seconds into the following frames,
    the tail ``drr_db`` below the direct sound in total energy."""
    power = np.exp(x.astype(np.float64))
    decay = 10.0 ** (-6.0 * FRAME_SECONDS / rt60)  # power ratio per frame
    tail = lfilter([0.0, decay], [1.0, -decay], power, axis=0)  # sum_k decay^k power[t - k]
    tail *= (1.0 - decay) / decay * 10.0 ** (-drr_db / 10.0)  # total tail gain: -drr_db
    return np.log(power + tail).astype(np.float32)


def band_limit(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Remove the bands below ``low`` and above ``high`` (shares of the mel axis), as a
    telephone line or a small microphone does: they drop BAND_STOP_DB."""
    bands = x.shape[1]
    cut = np.zeros(bands, dtype=np.float32)
    cut[: int(round(low * bands))] = -BAND_STOP_DB * DB_TO_LOG
    cut[int(round(high * bands)) :] = -BAND_STOP_DB * DB_TO_LOG
    return (x + cut).astype(np.float32)


def mixup(
    x: np.ndarray, mask: np.ndarray, y: np.ndarray, n_classes: int, alpha: float, rng
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mix each clip of a batch with another (weight ~ Beta(alpha, alpha), the larger share kept
    by the clip itself) and its one-hot target alike. Returns x, the union of the two masks, and
    (batch, n_classes) target probabilities."""
    lam = rng.beta(alpha, alpha, size=len(y)).astype(np.float32)
    lam = np.maximum(lam, 1.0 - lam)
    pair = rng.permutation(len(y))
    onehot = np.eye(n_classes, dtype=np.float32)[y]
    shape = (-1,) + (1,) * (x.ndim - 1)
    mixed = lam.reshape(shape) * x + (1.0 - lam.reshape(shape)) * x[pair]
    targets = lam[:, None] * onehot + (1.0 - lam[:, None]) * onehot[pair]
    return mixed.astype(np.float32), mask | mask[pair], targets


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
