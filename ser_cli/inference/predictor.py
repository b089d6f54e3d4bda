"""The predictor shared by `ser predict`, `ser listen` and `ser eval`.

It loads a run folder or the bundled model, computes features exactly as training did
(same FeatureConfig, same normalisation statistics) and returns a probability per label.
Long recordings are read window by window (never loaded whole) into a timeline; windows
without speech are reported as silence instead of being classified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ser_cli.audio.io import MIN_DURATION, SAMPLE_RATE, audio_info, load_audio, read_window
from ser_cli.errors import ModelError, SerError, UsageError
from ser_cli.features.normalization import Stats, group_stats
from ser_cli.labels import SILENCE

DEFAULT_MODEL = "default"  # the name of the bundled model
WINDOW = 3.0  # seconds: long recordings are classified in windows of this length
HOP = 1.5  # seconds between window starts
ADAPT_MODES = ("none", "all", "folder")  # who shares a speaker: nobody, all inputs, each folder


def resolve_model_dir(name: str | Path | None) -> Path:
    """'default' (or None) -> the bundled model; otherwise a run folder that must exist."""
    from ser_cli.paths import bundled_model_dir

    if name is None or str(name) == DEFAULT_MODEL:
        path = bundled_model_dir()
        if not (path / "best.json").exists():
            raise ModelError(
                "the bundled default model is missing from this install; reinstall ser-cli or pass --model RUN_DIR."
            )
        return path
    path = Path(name).expanduser()
    if not path.exists():
        raise ModelError(
            f"model '{name}' not found: give a `ser train` run folder or '{DEFAULT_MODEL}'."
        )
    return path


@dataclass
class Segment:
    start: float  # seconds
    end: float  # seconds
    label: str  # an emotion, or "silence"
    probabilities: dict[str, float] | None  # None for silence


@dataclass
class FilePrediction:
    path: str
    label: str | None
    probabilities: dict[str, float] | None
    duration: float
    segments: list[Segment] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict:
        out = {
            "path": self.path,
            "label": self.label,
            "probabilities": self.probabilities,
            "duration": round(self.duration, 3),
        }
        if self.segments:
            out["segments"] = [
                {
                    "start": round(s.start, 3),
                    "end": round(s.end, 3),
                    "label": s.label,
                    "probabilities": s.probabilities,
                }
                for s in self.segments
            ]
        if self.error:
            out["error"] = self.error
        return out


class Predictor:
    """A loaded model that turns 16 kHz audio into emotion probabilities."""

    def __init__(self, checkpoint, device: str = "cpu"):
        self.checkpoint = checkpoint
        self.device = device
        self.labels: tuple[str, ...] = checkpoint.labels
        self.feature_config = checkpoint.feature_config
        self.global_stats: Stats = checkpoint.global_stats
        self._vad = None

    @property
    def vad(self):
        from ser_cli.audio.vad import VoiceActivity

        if self._vad is None:
            self._vad = VoiceActivity()
        return self._vad

    def features(self, samples: np.ndarray) -> np.ndarray:
        """Frame features of 16 kHz audio, as in training. (n,) -> (frames, dims)."""
        from ser_cli.features.extract import compute_features

        return compute_features(samples, self.feature_config)

    def predict_features(self, feats: np.ndarray, stats: Stats | None = None) -> np.ndarray:
        """Probabilities (classes,) for one clip's features, normalised by ``stats``
        (a speaker's statistics) or, by default, the training data's."""
        import torch

        x = (stats or self.global_stats).apply(feats)
        max_frames = self.checkpoint.meta["train_config"]["max_eval_frames"]
        if x.shape[-2] > max_frames:
            cut = (x.shape[-2] - max_frames) // 2
            x = x[..., cut : cut + max_frames, :]
        with torch.no_grad():
            xt = torch.from_numpy(x).unsqueeze(0).to(self.device)
            mask = torch.ones(1, x.shape[-2], dtype=torch.bool, device=self.device)
            logits = self.checkpoint.model(xt, mask)
        return torch.softmax(logits.float(), dim=-1)[0].cpu().numpy()

    def predict_samples(self, samples: np.ndarray, stats: Stats | None = None) -> np.ndarray:
        """Probabilities (classes,) for 16 kHz mono audio (n,)."""
        return self.predict_features(self.features(samples), stats)

    def as_dict(self, probs: np.ndarray) -> dict[str, float]:
        return {label: round(float(p), 4) for label, p in zip(self.labels, probs, strict=False)}

    def uses_speaker_stats(self) -> bool:
        return self.checkpoint.normalization == "speaker"


def load_predictor(
    name_or_path: str | Path | None = DEFAULT_MODEL, device: str = "cpu"
) -> Predictor:
    """Load the bundled model ('default') or a run folder's best checkpoint."""
    from ser_cli.models.checkpoint import load_checkpoint

    return Predictor(
        load_checkpoint(resolve_model_dir(name_or_path), "best", device=device), device
    )


def predict_files(
    predictor: Predictor,
    paths: list[Path],
    *,
    window: float = WINDOW,
    hop: float = HOP,
    adapt: str = "none",
    on_progress: Callable[[int, int, str], None] | None = None,
) -> list[FilePrediction]:
    """Predict every file; a bad file (any failure, not only ser's own errors) becomes a
    FilePrediction with ``error`` set, so one clip never costs the others their results.

    Files no longer than ``window`` are classified whole; longer ones are read window by
    window into a timeline (silence marked) and summarised by the mean of their speech
    windows' probabilities. With ``adapt`` 'all' or 'folder', the files sharing a speaker are
    normalised by their pooled statistics first (no labels involved).
    """
    if adapt not in ADAPT_MODES:
        raise UsageError(f"--adapt must be one of {', '.join(ADAPT_MODES)} (got '{adapt}').")
    check_window(window, hop)
    speaker_stats = (
        _speaker_stats(predictor, paths, adapt)
        if adapt != "none" and predictor.uses_speaker_stats()
        else {}
    )
    results = []
    for done, path in enumerate(paths, start=1):
        try:
            stats = speaker_stats.get(_speaker_key(path, adapt))
            results.append(_predict_one(predictor, path, window, hop, stats))
        except SerError as exc:
            results.append(FilePrediction(str(path), None, None, 0.0, error=str(exc)))
        except Exception as exc:  # noqa: BLE001 - one bad clip must never cost the others
            detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            error = f"{path}: could not be classified ({type(exc).__name__}: {detail})"
            results.append(FilePrediction(str(path), None, None, 0.0, error=error))
        if on_progress:
            on_progress(done, len(paths), path.name)
    return results


def check_window(window: float, hop: float) -> None:
    """--window and --hop as finite seconds, the window long enough to classify."""
    import math

    if not (math.isfinite(window) and window >= MIN_DURATION):
        raise UsageError(f"--window must be at least {MIN_DURATION:g} seconds (got {window:g}).")
    if not (math.isfinite(hop) and hop > 0):
        raise UsageError(f"--hop must be a positive number of seconds (got {hop:g}).")


def _speaker_key(path: Path, adapt: str) -> str:
    return str(path.parent.resolve()) if adapt == "folder" else "all"


def _speaker_stats(predictor: Predictor, paths: list[Path], adapt: str) -> dict[str, Stats]:
    feats, groups = [], []
    for path in paths:
        try:
            info = audio_info(path)
            samples = load_audio(path) if info.duration <= 60 else read_window(path, 0, 60)
            feats.append(predictor.features(samples))
        except Exception:  # noqa: BLE001 - reported when the file itself is predicted
            continue
        groups.append(_speaker_key(path, adapt))
    return group_stats(feats, groups) if feats else {}


def _predict_one(
    predictor: Predictor, path: Path, window: float, hop: float, stats: Stats | None
) -> FilePrediction:
    info = audio_info(path)
    if info.duration <= window or info.frames <= 0:
        samples = load_audio(path)
        probs = predictor.predict_samples(samples, stats)
        return FilePrediction(
            str(path),
            predictor.labels[int(probs.argmax())],
            predictor.as_dict(probs),
            len(samples) / SAMPLE_RATE,
        )
    segments, speech_probs = [], []
    start = 0.0
    while start < info.duration:
        samples = read_window(path, start, window)
        end = start + len(samples) / SAMPLE_RATE
        if len(samples) < 0.5 * window * SAMPLE_RATE and segments:
            break  # a short tail is covered by the previous window
        if predictor.vad.is_speech(samples):
            probs = predictor.predict_samples(samples, stats)
            speech_probs.append(probs)
            segments.append(
                Segment(start, end, predictor.labels[int(probs.argmax())], predictor.as_dict(probs))
            )
        else:
            segments.append(Segment(start, end, SILENCE, None))
        start += hop
    if not speech_probs:
        return FilePrediction(str(path), SILENCE, None, info.duration, segments)
    mean = np.mean(speech_probs, axis=0)
    return FilePrediction(
        str(path),
        predictor.labels[int(mean.argmax())],
        predictor.as_dict(mean),
        info.duration,
        segments,
    )


def expand_inputs(items: list[str]) -> tuple[list[Path], list[str]]:
    """Files, folders (recursive) and globs -> (audio files in order, inputs that matched nothing)."""
    import glob

    from ser_cli.audio.io import AUDIO_SUFFIXES

    found: list[Path] = []
    missing: list[str] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
            )
        elif path.exists() or path.is_symlink():  # a broken link is reported as one
            found.append(path)
        else:
            matches = sorted(
                Path(m) for m in glob.glob(str(path), recursive=True) if Path(m).is_file()
            )
            if matches:
                found += matches
            else:
                missing.append(item)
    seen: set[Path] = set()
    unique = []
    for p in found:  # a file named twice (as itself and through its folder) is predicted once
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique, missing
