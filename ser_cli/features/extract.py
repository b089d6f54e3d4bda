"""Features computed from 16 kHz audio, and the on-disk cache that keeps epochs and reruns cheap.

Frame-level features come out as (frames, dims) float32 arrays:
- ``logmel``: log mel spectrogram (torchaudio), 10 ms hop.
- ``mfcc``: MFCCs over the same mel front end.
- ``ssl``: hidden states of every layer of a pretrained speech encoder, shape
  (layers, frames, dims) — see :mod:`ser_cli.features.ssl_encoder`.
- ``waveform``: the audio itself as (frames, 320) 20 ms chunks, for runs that fine-tune the
  encoder (``model_options.finetune``); set by the fine-tuning trainer, not by users.

The cache key is the file's absolute path, size and modification time plus the feature
settings, so a changed file or a changed setting is recomputed, never served stale.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE, load_audio
from ser_cli.errors import ConfigError

FEATURE_KINDS = ("logmel", "mfcc", "ssl", "waveform")
LOG_FLOOR = 1e-6  # added before the log so silent frames stay finite
TRIM_DB = 40.0  # frames this far below the loudest frame, at either end, count as silence
SSL_FRAMES_PER_SECOND = 50.0  # wav2vec 2.0, HuBERT, WavLM and Whisper encoders: one per 20 ms


@dataclass(frozen=True)
class FeatureConfig:
    """How audio becomes model input. Saved with every checkpoint and checked on load."""

    kind: str = "logmel"  # one of FEATURE_KINDS
    n_mels: int = 64  # mel bands
    n_fft: int = 512  # FFT size in samples (32 ms at 16 kHz)
    win_length: int = 400  # analysis window in samples (25 ms)
    hop_length: int = 160  # hop in samples (10 ms): 100 frames a second
    f_min: float = 20.0  # Hz
    f_max: float = 8000.0  # Hz: Nyquist at 16 kHz
    n_mfcc: int = 40  # cepstral coefficients when kind == "mfcc"
    trim_silence: bool = True  # drop leading/trailing frames TRIM_DB below the loudest
    ssl_model: str = ""  # Hugging Face id or local folder when kind == "ssl"
    ssl_max_seconds: float = 8.0  # longest audio fed to the encoder at once

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ConfigError(
                f"unknown feature kind '{self.kind}'; choose one of {', '.join(FEATURE_KINDS)}."
            )
        if self.kind == "ssl" and not self.ssl_model:
            raise ConfigError(
                "feature kind 'ssl' needs ssl_model (a Hugging Face id or a local folder)."
            )

    @property
    def dims(self) -> int | None:
        """Feature dimensions per frame (None for ssl: the encoder decides)."""
        return {"logmel": self.n_mels, "mfcc": self.n_mfcc}.get(self.kind)

    @property
    def frames_per_second(self) -> float:
        """Feature frames per second of audio (ssl: the encoders' 20 ms stride)."""
        return SSL_FRAMES_PER_SECOND if self.kind == "ssl" else SAMPLE_RATE / self.hop_length

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FeatureConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown feature setting(s): {', '.join(sorted(unknown))}.")
        return cls(**data)

    def key(self) -> str:
        """A short hash of the settings, part of every cache key."""
        return hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


_TRANSFORMS: dict = {}


def _mel_transform(cfg: FeatureConfig):
    """One MelSpectrogram/MFCC module per setting, built once per process."""
    key = (cfg.kind, cfg.key())
    if key not in _TRANSFORMS:
        import torchaudio.transforms as T

        mel_kwargs = dict(
            n_fft=cfg.n_fft,
            win_length=cfg.win_length,
            hop_length=cfg.hop_length,
            f_min=cfg.f_min,
            f_max=cfg.f_max,
            n_mels=cfg.n_mels,
        )
        if cfg.kind == "mfcc":  # MFCC passes its own sample_rate on to the mel front end
            _TRANSFORMS[key] = T.MFCC(
                sample_rate=SAMPLE_RATE, n_mfcc=cfg.n_mfcc, log_mels=True, melkwargs=mel_kwargs
            )
        else:
            _TRANSFORMS[key] = T.MelSpectrogram(sample_rate=SAMPLE_RATE, **mel_kwargs)
    return _TRANSFORMS[key]


def compute_features(samples: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Frame-level features of one clip.

    Args:
        samples: shape (n,), float32 at SAMPLE_RATE.
    Returns:
        (frames, n_mels) for logmel, (frames, n_mfcc) for mfcc,
        (layers, frames, dims) for ssl, (frames, 320) for waveform.
    """
    import torch

    if cfg.kind == "ssl":
        from ser_cli.features.ssl_encoder import encode_all_layers

        return encode_all_layers(samples, cfg.ssl_model, max_seconds=cfg.ssl_max_seconds)
    if cfg.kind == "waveform":
        from ser_cli.features.ssl_encoder import waveform_frames

        return waveform_frames(samples, cfg.ssl_max_seconds)
    wave = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    with torch.no_grad():
        mel_power = _mel_transform(FeatureConfig(kind="logmel", **_mel_only(cfg)))(
            wave
        )  # (n_mels, frames)
        keep = _voiced_span(mel_power) if cfg.trim_silence else slice(None)
        if cfg.kind == "mfcc":
            out = _mel_transform(cfg)(wave)[:, keep]
        else:
            out = torch.log(mel_power[:, keep] + LOG_FLOOR)
    return out.T.contiguous().numpy().astype(np.float32)


def _mel_only(cfg: FeatureConfig) -> dict:
    return {
        k: getattr(cfg, k)
        for k in ("n_mels", "n_fft", "win_length", "hop_length", "f_min", "f_max")
    }


def _voiced_span(mel_power) -> slice:
    """The frames between the first and last frame within TRIM_DB of the loudest one."""
    import torch

    energy_db = 10 * torch.log10(mel_power.sum(dim=0) + LOG_FLOOR)
    loud = torch.nonzero(energy_db > energy_db.max() - TRIM_DB).flatten()
    if loud.numel() == 0:
        return slice(None)
    return slice(int(loud[0]), int(loud[-1]) + 1)


class FeatureCache:
    """Features on disk as .npy (never pickle), keyed by file identity and settings."""

    def __init__(self, root: str | Path | None, cfg: FeatureConfig):
        from ser_cli.paths import cache_dir

        self.cfg = cfg
        self.root = Path(root) if root is not None else cache_dir()
        self.folder = self.root / f"{cfg.kind}-{cfg.key()}"

    def _path_for(self, audio_path: Path) -> Path:
        stat = audio_path.stat()
        ident = f"{audio_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        return self.folder / (hashlib.sha1(ident.encode()).hexdigest() + ".npy")

    def get(self, audio_path: str | Path) -> np.ndarray:
        """Features of a file, computed on first use and read from disk after."""
        from ser_cli.atomic import atomic_path

        audio_path = Path(audio_path)
        target = self._path_for(audio_path)
        if target.exists():
            try:
                return np.load(target, allow_pickle=False)
            except (OSError, ValueError):
                target.unlink(missing_ok=True)  # a damaged cache entry is recomputed
        feats = compute_features(load_audio(audio_path), self.cfg)
        stored = feats.astype(np.float16) if self.cfg.kind == "ssl" else feats
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, stored, allow_pickle=False)
        return stored
