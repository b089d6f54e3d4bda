"""The torch predictor of `ser train` runs, and `predict_files`, which drives any predictor.

:class:`TorchPredictor` (built by :func:`ser_cli.inference.load.load_predictor` for a run
folder, an ensemble or the bundled model) computes features exactly as training did
(same FeatureConfig, same normalisation statistics) and turns them into probabilities through
:func:`ser_cli.inference.batch.probabilities`, the path `ser eval` and training validation
take too. Every input is checked for speech first (Silero VAD, :mod:`ser_cli.audio.vad`).
Files the model reads whole are classified in batches; longer recordings are read piece by
piece (never loaded whole) into a timeline of utterances and pauses
(:mod:`ser_cli.inference.segment`) or of fixed windows, and stretches without speech are
reported as silence instead of being classified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE, audio_info, is_silent, load_audio, read_window
from ser_cli.errors import ModelError, SerError
from ser_cli.features.normalization import Stats, group_stats
from ser_cli.inference.batch import BATCH_SIZE, probabilities
from ser_cli.inference.calibration import confident_label
from ser_cli.inference.options import (  # noqa: F401 - ADAPT_MODES, check_window: re-exported
    ADAPT_MODES,
    PredictOptions,
    check_window,
)
from ser_cli.inference.protocol import Predictor
from ser_cli.labels import SILENCE
from ser_cli.progress import Progress

# `ser predict` classifies a file whole when the model can read it whole (as `ser eval`
# does: Predictor.max_seconds), and longer recordings by utterance (or, with --segment fixed,
# in windows).
PROB_DECIMALS = 4  # decimal places of reported probabilities (JSON, CSV)


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
            "probabilities": _rounded(self.probabilities),
            "duration": round(self.duration, 3),
        }
        if self.segments:
            out["segments"] = [
                {
                    "start": round(s.start, 3),
                    "end": round(s.end, 3),
                    "label": s.label,
                    "probabilities": _rounded(s.probabilities),
                }
                for s in self.segments
            ]
        if self.error:
            out["error"] = self.error
        return out


def _rounded(probabilities: dict[str, float] | None) -> dict[str, float] | None:
    """Probabilities as reported (JSON, CSV): PROB_DECIMALS places."""
    if probabilities is None:
        return None
    return {label: round(p, PROB_DECIMALS) for label, p in probabilities.items()}


def set_torch_threads(threads: int) -> None:
    """torch's CPU threads, for the whole process (``ser listen`` uses one)."""
    import torch

    torch.set_num_threads(threads)


class TorchPredictor:
    """A `ser train` run or ensemble checkpoint in torch: the :class:`Predictor` of kind 'run'."""

    set_threads = staticmethod(set_torch_threads)

    def __init__(self, checkpoint, device: str = "cpu"):
        self.checkpoint = checkpoint
        self.device = device
        self.labels: tuple[str, ...] = checkpoint.labels
        self.feature_config = checkpoint.feature_config
        self.global_stats: Stats = checkpoint.global_stats
        self.meta: dict = checkpoint.meta
        self.warnings: list[str] = []
        self.batch_size: int = BATCH_SIZE
        self.temperature: float = checkpoint.temperature  # calibration: logits / T before softmax

    @cached_property
    def vad(self):
        """Voice activity detector, loaded on first use (only timelines and listen need it)."""
        from ser_cli.audio.vad import VoiceActivity

        return VoiceActivity()

    def features(self, samples: np.ndarray, voice: np.ndarray | None = None) -> np.ndarray:
        """Frame features of 16 kHz audio, as in training. (n,) -> (frames, dims); ``voice``:
        the embedding a voice model gets beside each frame instead of the clip's own."""
        from ser_cli.features.extract import compute_features

        if voice is not None and not self.feature_config.voice:
            raise ModelError(
                f"{self.checkpoint.path}: reads no voice features; no voice embedding to add."
            )
        return compute_features(samples, self.feature_config, voice)

    @property
    def voice_encoder(self):
        """resemblyzer's encoder on stacked partials for a model that reads voice features
        (``features.voice``), else None."""
        if not self.feature_config.voice:
            return None
        from ser_cli.features.voice import encode_partials

        return encode_partials

    @property
    def max_frames(self) -> int:
        """Longer inputs are centre-cropped to this many frames, as in evaluation."""
        return int(self.checkpoint.meta["train_config"]["max_eval_frames"])

    @property
    def max_seconds(self) -> float:
        """The longest audio the model reads whole: `ser predict`'s default window."""
        seconds = self.max_frames / self.feature_config.frames_per_second
        if self.feature_config.kind == "ssl":
            seconds = min(seconds, self.feature_config.ssl_max_seconds)
        return seconds

    def predict_batch(
        self, feats: list[np.ndarray], stats: list[Stats | None] | None = None
    ) -> np.ndarray:
        """Probabilities (clips, classes) for clips' features (each (frames, dims)).

        Each clip is normalised by its ``stats`` entry (a speaker's statistics; None -> the
        training data's), centre-cropped to ``max_frames`` and run in padded, masked batches:
        the same path `ser eval` and training validation take, so the numbers agree.
        """
        chosen = [s if s is not None else self.global_stats for s in (stats or [None] * len(feats))]
        return probabilities(
            self.checkpoint.model,
            feats,
            chosen,
            max_frames=self.max_frames,
            batch_size=self.batch_size,
            device=self.device,
            temperature=self.temperature,
        )

    def as_dict(self, probs: np.ndarray) -> dict[str, float]:
        """{label: probability} of one clip's (classes,) probabilities, at full precision."""
        return {label: float(p) for label, p in zip(self.labels, probs, strict=True)}

    def uses_speaker_stats(self) -> bool:
        return self.checkpoint.normalization == "speaker"


def predict_files(
    predictor: Predictor,
    paths: list[Path],
    options: PredictOptions | None = None,
    *,
    on_progress: Progress | None = None,
    **fields,
) -> list[FilePrediction]:
    """Predict every file with ``options`` (or ``PredictOptions(**fields)``); a bad file (any
    failure, not only ser's own errors) becomes a FilePrediction with ``error`` set, so one
    clip never costs the others their results.

    Every file is checked for speech first: one without any (digital silence, a click, noise)
    is a ``silence`` result with no probabilities. Files the model reads whole
    (``predictor.max_seconds``; with fixed windows, up to the window) are classified whole,
    ``predictor.batch_size`` at a time, exactly as `ser eval` scores them. Longer ones become
    a timeline (never loaded whole): by utterance (``vad``, see
    :mod:`ser_cli.inference.segment`), each utterance classified whole (with a little of the
    pause on each side, ``segment.CONTEXT``) and the file summarised
    by the mean of their probabilities weighted by duration; or in fixed windows every ``hop``
    seconds, summarised by their mean. With ``adapt`` 'all' or 'folder', the files sharing a
    speaker are normalised by their pooled statistics first (no labels involved). A file or
    segment whose top probability is below ``min_confidence`` is labelled UNCERTAIN
    (probabilities kept).
    """
    if options is None:
        options = PredictOptions(**fields)
    elif fields:
        raise TypeError("give either options or option fields, not both")
    longest = predictor.max_seconds
    if options.mode == "fixed":
        window, hop = options.windows(longest)
    else:
        window, hop = longest, None
    speaker_stats: dict[str, Stats] = {}
    known: dict[int, tuple[np.ndarray, float]] = {}  # short files' (features, seconds), reused
    if options.adapt != "none" and predictor.uses_speaker_stats():
        speaker_stats, known = _speaker_stats(predictor, paths, options.adapt, window)
    results: list[FilePrediction | None] = [None] * len(paths)
    pending: list[tuple[int, np.ndarray, float, Stats | None]] = []  # short clips awaiting a batch

    def classify(batch: list[tuple[int, np.ndarray, float, Stats | None]]) -> None:
        probs = predictor.predict_batch([p[1] for p in batch], [p[3] for p in batch])
        for (i, _, seconds, _), p in zip(batch, probs, strict=True):
            results[i] = FilePrediction(
                str(paths[i]), predictor.labels[int(p.argmax())], predictor.as_dict(p), seconds
            )

    def flush() -> None:
        try:
            classify(pending)
        except Exception:  # noqa: BLE001 - find the clip that broke the batch; keep the rest
            for item in pending:
                try:
                    classify([item])
                except Exception as exc:  # noqa: BLE001
                    results[item[0]] = _failed(paths[item[0]], exc)
        pending.clear()

    for i, path in enumerate(paths):
        stats = speaker_stats.get(_speaker_key(path, options.adapt))
        try:
            info = audio_info(path)
            if info.duration <= window or info.frames <= 0:
                samples = load_audio(path, check_silence=False)
                seconds = len(samples) / SAMPLE_RATE
                if not _heard(predictor, samples, options.speech_check):
                    results[i] = FilePrediction(str(path), SILENCE, None, seconds)
                    known.pop(i, None)
                elif i in known:
                    pending.append((i, *known.pop(i), stats))
                else:
                    pending.append((i, predictor.features(samples), seconds, stats))
            elif hop is not None:
                results[i] = _predict_windows(predictor, path, info.duration, window, hop, stats)
            else:
                results[i] = _predict_utterances(
                    predictor, path, info.duration, longest, options.pause, stats
                )
        except SerError as exc:
            results[i] = FilePrediction(str(path), None, None, 0.0, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - one bad clip must never cost the others
            results[i] = _failed(path, exc)
        if len(pending) >= predictor.batch_size:
            flush()
        if on_progress:
            on_progress(i + 1, len(paths), path.name)
    if pending:
        flush()
    return [_label_uncertain(r, options.min_confidence) for r in results if r is not None]


def _heard(predictor, samples: np.ndarray, speech_check: bool) -> bool:
    """Whether a clip read whole is classified: it holds speech, or (without the speech
    check) it is audible at all (digital silence is never classified)."""
    if speech_check:
        return predictor.vad.has_speech(samples)
    return not is_silent(samples)


def _failed(path: Path, exc: Exception) -> FilePrediction:
    """A file that failed for a reason outside ser's own checks, reported in one line."""
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    error = f"{path}: could not be classified ({type(exc).__name__}: {detail})"
    return FilePrediction(str(path), None, None, 0.0, error=error)


def _label_uncertain(result: FilePrediction, min_confidence: float) -> FilePrediction:
    """Relabel the file and its segments UNCERTAIN where the top probability is too low."""
    if min_confidence <= 0:
        return result
    for item in (result, *result.segments):
        if item.probabilities:
            labels = tuple(item.probabilities)
            item.label = confident_label(labels, list(item.probabilities.values()), min_confidence)
    return result


def _speaker_key(path: Path, adapt: str) -> str:
    return str(path.parent.resolve()) if adapt == "folder" else "all"


def _speaker_stats(
    predictor: Predictor, paths: list[Path], adapt: str, window: float
) -> tuple[dict[str, Stats], dict[int, tuple[np.ndarray, float]]]:
    """Each speaker's statistics (from up to a minute of each file), and the features of the
    files short enough to be classified whole, so they are not computed twice."""
    feats, groups, known = [], [], {}
    for i, path in enumerate(paths):
        try:
            info = audio_info(path)
            samples = load_audio(path) if info.duration <= 60 else read_window(path, 0, 60)
            feats.append(predictor.features(samples))
        except Exception:  # noqa: BLE001 - reported when the file itself is predicted
            continue
        groups.append(_speaker_key(path, adapt))
        if info.duration <= window or info.frames <= 0:
            known[i] = (feats[-1], len(samples) / SAMPLE_RATE)
    return (group_stats(feats, groups) if feats else {}), known


class _Batches:
    """Features classified in batches of ``predictor.batch_size`` as they come, so a long
    recording is never held whole; ``done()`` gives key -> probabilities."""

    def __init__(self, predictor: Predictor, stats):
        self.predictor, self.stats = predictor, stats
        self.pending: list[tuple[int, np.ndarray]] = []
        self.probs: dict[int, np.ndarray] = {}

    def add(self, key: int, features: np.ndarray) -> None:
        self.pending.append((key, features))
        if len(self.pending) >= self.predictor.batch_size:
            self._flush()

    def done(self) -> dict[int, np.ndarray]:
        self._flush()
        return self.probs

    def _flush(self) -> None:
        if self.pending:
            feats = [f for _, f in self.pending]
            probs = self.predictor.predict_batch(feats, [self.stats] * len(feats))
            self.probs.update((k, p) for (k, _), p in zip(self.pending, probs, strict=True))
            self.pending.clear()


def _predict_utterances(
    predictor: Predictor, path: Path, duration: float, longest: float, pause: float, stats
) -> FilePrediction:
    """A timeline of utterances and pauses (see :mod:`ser_cli.inference.segment`): each speech
    row's audio (``audio_start`` to ``audio_end``: the row and its context) classified in
    batches, the row's own start and end reported, the file summarised by the rows'
    duration-weighted mean."""
    from ser_cli.audio.vad import file_speech_probabilities, speech_spans
    from ser_cli.inference.segment import plan_rows

    spans = speech_spans(file_speech_probabilities(predictor.vad, path, duration))
    rows = plan_rows(spans, duration, longest, pause)
    batches = _Batches(predictor, stats)

    for j, row in enumerate(rows):
        if row.speech:
            samples = read_window(path, row.audio_start, row.audio_end - row.audio_start)
            batches.add(j, predictor.features(samples))
    probs_of = batches.done()
    segments = []
    for j, row in enumerate(rows):
        p = probs_of.get(j)
        if p is None:
            segments.append(Segment(row.start, row.end, SILENCE, None))
        else:
            segments.append(
                Segment(row.start, row.end, predictor.labels[int(p.argmax())], predictor.as_dict(p))
            )
    if not probs_of:
        return FilePrediction(str(path), SILENCE, None, duration, segments)
    weights = np.array([rows[j].end - rows[j].start for j in probs_of])
    mean = np.average(np.array(list(probs_of.values())), axis=0, weights=weights)
    return FilePrediction(
        str(path), predictor.labels[int(mean.argmax())], predictor.as_dict(mean), duration, segments
    )


def _predict_windows(
    predictor: Predictor, path: Path, duration: float, window: float, hop: float, stats
) -> FilePrediction:
    """A timeline of fixed windows: speech windows classified in batches, silence marked."""
    spans: list[tuple[float, float]] = []
    batches = _Batches(predictor, stats)  # span index -> probabilities, for speech windows

    start = 0.0
    while start < duration:
        samples = read_window(path, start, window)
        if len(samples) < 0.5 * window * SAMPLE_RATE and spans:
            break  # a short tail is covered by the previous window
        spans.append((start, start + len(samples) / SAMPLE_RATE))
        if predictor.vad.is_speech(samples):
            batches.add(len(spans) - 1, predictor.features(samples))
        start += hop
    probs_of = batches.done()
    segments = []
    for j, (begin, end) in enumerate(spans):
        p = probs_of.get(j)
        if p is None:
            segments.append(Segment(begin, end, SILENCE, None))
        else:
            label = predictor.labels[int(p.argmax())]
            segments.append(Segment(begin, end, label, predictor.as_dict(p)))
    if not probs_of:
        return FilePrediction(str(path), SILENCE, None, duration, segments)
    mean = np.mean(list(probs_of.values()), axis=0)
    return FilePrediction(
        str(path), predictor.labels[int(mean.argmax())], predictor.as_dict(mean), duration, segments
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
