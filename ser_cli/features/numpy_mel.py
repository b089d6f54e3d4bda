"""The log-mel (and MFCC) front end in numpy, for predicting without torch.

It reproduces :func:`ser_cli.features.extract.compute_features` for ``logmel`` and ``mfcc``:
torchaudio's ``MelSpectrogram`` defaults (periodic Hann window of ``win_length`` centred in
``n_fft``, ``center=True`` with reflect padding, power 2, HTK mel scale, no filter
normalisation), the same LOG_FLOOR and the same voiced-span trimming (``voice`` features
add the clip's embedding with :mod:`ser_cli.features.numpy_voice`). The filterbank is built here rather than with librosa because importing librosa (numba) costs more than the
whole torch-free prediction is allowed to take.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE
from ser_cli.features.extract import LOG_FLOOR, TRIM_DB, FeatureConfig


def hz_to_mel(hz):
    """HTK mel scale (torchaudio's default)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def mel_filterbank(
    n_fft: int, n_mels: int, f_min: float, f_max: float, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Triangular HTK filters, no normalisation: (n_fft // 2 + 1, n_mels), as torchaudio's
    ``melscale_fbanks``."""
    points = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    return triangular_filters(points, n_fft, sample_rate)


def triangular_filters(points: np.ndarray, n_fft: int, sample_rate: int) -> np.ndarray:
    """Filters rising from ``points[i]`` to a peak of 1 at ``points[i + 1]`` and falling to
    ``points[i + 2]`` (Hz), on the FFT's bins: (n_fft // 2 + 1, len(points) - 2)."""
    freqs = np.linspace(0, sample_rate // 2, n_fft // 2 + 1)
    widths = np.diff(points)
    slopes = points[None, :] - freqs[:, None]  # (freqs, n_mels + 2)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    return np.maximum(0.0, np.minimum(down, up))


@lru_cache(maxsize=8)
def _window(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window of ``win_length``, zero-padded on both sides to ``n_fft``."""
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)
    left = (n_fft - win_length) // 2
    return np.pad(hann, (left, n_fft - win_length - left))


@lru_cache(maxsize=4)
def _dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II matrix (n_mels, n_mfcc), as torchaudio's ``create_dct(norm='ortho')``."""
    n = np.arange(n_mels, dtype=np.float64)
    k = np.arange(n_mfcc, dtype=np.float64)[:, None]
    dct = np.cos(np.pi / n_mels * (n + 0.5) * k)  # (n_mfcc, n_mels)
    dct[0] *= 1.0 / np.sqrt(2.0)
    dct *= np.sqrt(2.0 / n_mels)
    return dct.T


def mel_power(samples: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Mel power spectrogram of 16 kHz audio: (n,) -> (n_mels, frames), frames = 1 + n // hop."""
    power = power_spectrum(samples, cfg.n_fft, cfg.win_length, cfg.hop_length)
    return (power @ mel_filterbank(cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max)).T


def power_spectrum(
    samples: np.ndarray, n_fft: int, win_length: int, hop_length: int, pad: str = "reflect"
) -> np.ndarray:
    """Power spectrum of centred frames, as torch.stft(center=True, pad_mode=pad) with a
    periodic Hann window: (n,) -> (1 + n // hop_length, n_fft // 2 + 1), float64."""
    x = np.asarray(samples, dtype=np.float64)
    half = n_fft // 2
    if pad == "reflect" and x.size <= half:  # reflect padding needs more samples than it pads
        x = np.pad(x, (0, half + 1 - x.size))
    x = np.pad(x, (half, half), mode=pad)
    frames = 1 + (x.size - n_fft) // hop_length
    view = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop_length][:frames]
    spectrum = np.fft.rfft(view * _window(win_length, n_fft), axis=-1)
    return spectrum.real**2 + spectrum.imag**2


def voiced_span(mel: np.ndarray) -> slice:
    """The frames between the first and last frame within TRIM_DB of the loudest one."""
    energy_db = 10 * np.log10(mel.sum(axis=0) + LOG_FLOOR)
    loud = np.flatnonzero(energy_db > energy_db.max() - TRIM_DB)
    if loud.size == 0:
        return slice(None)
    return slice(int(loud[0]), int(loud[-1]) + 1)


def compute_features_numpy(samples: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(n,) 16 kHz float32 -> (frames, n_mels) log-mel or (frames, n_mfcc) MFCC, float32.
    (With ``cfg.voice``, :func:`ser_cli.features.numpy_voice.append_voice` adds the rest.)"""
    if cfg.kind not in ("logmel", "mfcc"):
        raise ValueError(f"numpy features cover logmel and mfcc, not {cfg.kind!r}")
    mel = mel_power(samples, cfg)
    keep = voiced_span(mel) if cfg.trim_silence else slice(None)
    out = np.log(mel[:, keep] + LOG_FLOOR).T  # (frames, n_mels)
    if cfg.kind == "mfcc":
        out = out @ _dct_matrix(cfg.n_mfcc, cfg.n_mels)
    return np.ascontiguousarray(out, dtype=np.float32)
