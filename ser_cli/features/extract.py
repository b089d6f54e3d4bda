"""Features computed from 16 kHz audio, and the on-disk cache that keeps epochs and reruns cheap.

Frame-level features come out as (frames, dims) float32 arrays:
- ``logmel``: log mel spectrogram (torchaudio), 10 ms hop.
- ``mfcc``: MFCCs over the same mel front end.
- ``logmel`` with ``voice``: each frame followed by the clip's voice embedding (a pretrained
  speaker encoder, :mod:`ser_cli.features.voice`), (frames, n_mels + 256).
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
from typing import ClassVar

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE, audio_info, load_audio
from ser_cli.errors import ConfigError, OutputError
from ser_cli.features.voice import VOICE_DIMS, voice_embedding
from ser_cli.validation import at_least, between, check_fields, one_of, positive

FEATURE_KINDS = ("logmel", "mfcc", "ssl", "waveform")
LOG_FLOOR = 1e-6  # added before the log so silent frames stay finite
TRIM_DB = 40.0  # frames this far below the loudest frame, at either end, count as silence
MAX_MELS = 512  # mel bands (and MFCCs): far past any useful resolution at 16 kHz
MAX_FFT = 65_536  # FFT size and hop, in samples (4 s)
SSL_FRAMES_PER_SECOND = 50.0  # wav2vec 2.0, HuBERT, WavLM and Whisper encoders: one per 20 ms


@dataclass(frozen=True)
class FeatureConfig:
    """How audio becomes model input. Saved with every checkpoint and checked on load."""

    kind: str = "logmel"  # one of FEATURE_KINDS
    n_mels: int = 40  # mel bands (a training step costs 1.6x more with 64 on the default model)
    n_fft: int = 512  # FFT size in samples (32 ms at 16 kHz)
    win_length: int = 400  # analysis window in samples (25 ms)
    hop_length: int = 160  # hop in samples (10 ms): 100 frames a second
    f_min: float = 20.0  # Hz
    f_max: float = 8000.0  # Hz: Nyquist at 16 kHz
    n_mfcc: int = 40  # cepstral coefficients when kind == "mfcc"
    trim_silence: bool = True  # drop leading/trailing frames TRIM_DB below the loudest
    ssl_model: str = ""  # Hugging Face id or local folder when kind == "ssl"
    ssl_max_seconds: float = 8.0  # longest audio fed to the encoder at once
    # logmel only: append the clip's voice embedding (features.voice: a pretrained speaker
    # encoder, VOICE_DIMS values) to every frame; read by models that take it (enhanced).
    voice: bool = False

    RULES: ClassVar[dict] = {
        "kind": one_of(*FEATURE_KINDS),
        # upper bounds: a typo such as n_mels=1000000000 would allocate gigabytes
        "n_mels": between(1, MAX_MELS),
        "n_fft": between(2, MAX_FFT),
        "win_length": at_least(1),
        "hop_length": between(1, MAX_FFT),
        "f_min": at_least(0),
        "f_max": positive,
        "n_mfcc": between(1, MAX_MELS),
        "ssl_max_seconds": between(1e-3, 600),
    }

    def __post_init__(self) -> None:
        check_fields(self, "features")
        if self.win_length > self.n_fft:
            raise ConfigError(
                f"features.win_length ({self.win_length}) must not exceed features.n_fft ({self.n_fft})."
            )
        if not self.f_min < self.f_max <= SAMPLE_RATE / 2:
            raise ConfigError(
                f"features.f_min ({self.f_min:g} Hz) must be below features.f_max ({self.f_max:g} Hz), "
                f"which must not exceed {SAMPLE_RATE // 2} Hz (half of {SAMPLE_RATE} Hz)."
            )
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ConfigError(
                f"features.n_mfcc ({self.n_mfcc}) must not exceed features.n_mels ({self.n_mels})."
            )
        if self.voice and self.kind != "logmel":
            raise ConfigError(
                f"features.voice adds to log-mel features; features.kind is '{self.kind}'."
            )
        if self.kind == "ssl" and not self.ssl_model:
            raise ConfigError(
                "feature kind 'ssl' needs ssl_model (a Hugging Face id or a local folder)."
            )

    @property
    def dims(self) -> int | None:
        """Feature dimensions per frame (None for ssl: the encoder decides)."""
        dims = {"logmel": self.n_mels, "mfcc": self.n_mfcc}.get(self.kind)
        return dims + VOICE_DIMS if dims is not None and self.voice else dims

    @property
    def voice_dims(self) -> int:
        """How many of each frame's values, at its end, are the voice embedding (0 or VOICE_DIMS)."""
        return VOICE_DIMS if self.voice else 0

    @property
    def frames_per_second(self) -> float:
        """Feature frames per second of audio (ssl: the encoders' 20 ms stride)."""
        return SSL_FRAMES_PER_SECOND if self.kind == "ssl" else SAMPLE_RATE / self.hop_length

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FeatureConfig:
        if not isinstance(data, dict):
            raise ConfigError("features: expected a mapping of feature settings.")
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


def compute_features(
    samples: np.ndarray, cfg: FeatureConfig, voice: np.ndarray | None = None
) -> np.ndarray:
    """Frame-level features of one clip.

    Args:
        samples: shape (n,), float32 at SAMPLE_RATE.
        voice: with ``cfg.voice``, the (VOICE_DIMS,) embedding to append instead of the
            clip's own (``ser listen`` keeps one for the stream; see ``with_voice``).
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
    frames = out.T.contiguous().numpy().astype(np.float32)
    if cfg.voice:  # the whole clip's embedding beside each frame: (frames, n_mels + VOICE_DIMS)
        frames = with_voice(frames, voice if voice is not None else voice_embedding(samples))
    elif voice is not None:
        raise ConfigError("this model reads no voice features; no voice embedding to add.")
    return frames


def with_voice(frames: np.ndarray, embedding: np.ndarray) -> np.ndarray:
    """(frames, dims) -> (frames, dims + VOICE_DIMS): ``embedding`` beside every frame."""
    embedding = np.asarray(embedding, dtype=np.float32)
    if embedding.shape != (VOICE_DIMS,):
        raise ConfigError(
            f"a voice embedding has {VOICE_DIMS} values; got an array of shape {embedding.shape}."
        )
    return np.concatenate([frames, np.broadcast_to(embedding, (len(frames), VOICE_DIMS))], 1)


def _mel_only(cfg: FeatureConfig) -> dict:
    return {
        k: getattr(cfg, k)
        for k in ("n_mels", "n_fft", "win_length", "hop_length", "f_min", "f_max")
    }


def speech_frames(samples: np.ndarray, cfg: FeatureConfig) -> tuple[slice, int]:
    """Which 10 ms frames of a clip its log-mel features keep (its speech span when
    ``cfg.trim_silence``, else all) and how many frames the clip has. ``samples``: (n,) float32
    at SAMPLE_RATE; frame t is centred on sample t * hop_length."""
    import torch

    with torch.no_grad():
        power = _mel_transform(FeatureConfig(kind="logmel", **_mel_only(cfg)))(
            torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
        )
    return (_voiced_span(power) if cfg.trim_silence else slice(None)), power.shape[1]


def _voiced_span(mel_power) -> slice:
    """The frames between the first and last frame within TRIM_DB of the loudest one."""
    import torch

    energy_db = 10 * torch.log10(mel_power.sum(dim=0) + LOG_FLOOR)
    loud = torch.nonzero(energy_db > energy_db.max() - TRIM_DB).flatten()
    if loud.numel() == 0:
        return slice(None)
    return slice(int(loud[0]), int(loud[-1]) + 1)


class FeatureCache:
    """Features on disk as .npy (never pickle), keyed by file identity and settings.

    An entry that cannot be read back whole and sane (0 bytes, truncated, wrong shape, NaN)
    counts as a miss: it is recomputed and replaced atomically.
    """

    def __init__(self, root: str | Path | None, cfg: FeatureConfig):
        from ser_cli.paths import cache_dir

        self.cfg = cfg
        self.root = Path(root) if root is not None else cache_dir()
        self.folder = self.root / f"{cfg.kind}-{cfg.key()}"
        _check_cache_folder(self.folder, from_env=root is None)

    def _path_for(self, audio_path: Path) -> Path:
        stat = audio_path.stat()
        ident = f"{audio_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        return self.folder / (hashlib.sha1(ident.encode()).hexdigest() + ".npy")

    def get(self, audio_path: str | Path) -> np.ndarray:
        """Features of a file, computed on first use and read from disk after."""
        from ser_cli.atomic import atomic_path

        audio_path = Path(audio_path)
        if not audio_path.is_file():
            audio_info(audio_path)  # missing, a folder, a FIFO...: fails with its own message
        target = self._path_for(audio_path)
        cached = self._read(target)
        if cached is not None:
            return cached
        feats = compute_features(load_audio(audio_path), self.cfg)
        stored = feats.astype(np.float16) if self.cfg.kind == "ssl" else feats
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, stored, allow_pickle=False)
        return stored

    def _read(self, target: Path) -> np.ndarray | None:
        """A cache entry, or None when it is missing or damaged in any way."""
        if not target.is_file():
            return None
        try:
            feats = np.load(target, allow_pickle=False)
        except Exception:  # noqa: BLE001 - 0 bytes (EOFError), truncated (ValueError), foreign
            return None
        expected_ndim = 3 if self.cfg.kind == "ssl" else 2
        dims = self.cfg.dims
        if (
            not isinstance(feats, np.ndarray)
            or feats.ndim != expected_ndim
            or feats.shape[-2] < 1
            or (dims is not None and feats.shape[-1] != dims)
            or not np.issubdtype(feats.dtype, np.floating)
            or not np.all(np.isfinite(feats))
        ):
            return None
        return feats


def _check_cache_folder(folder: Path, *, from_env: bool) -> None:
    """Fail now, in one line, when the feature cache cannot be written."""
    import os

    from ser_cli.paths import HOME_ENV

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = f"${HOME_ENV} ({folder.parents[1]})" if from_env else str(folder)
        raise OutputError(
            f"cannot create the feature cache in {where}: {exc.strerror or exc}; "
            f"set {HOME_ENV} to a writable folder."
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(
            f"the feature cache {folder} is not writable; set {HOME_ENV} to a writable folder."
        )
