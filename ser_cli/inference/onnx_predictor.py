"""A predictor for exported ``.onnx`` models that never imports torch.

Features come from :mod:`ser_cli.features.numpy_mel` (and, for a model that reads voice
features, :mod:`ser_cli.features.numpy_voice` around the speaker encoder the file carries),
voice activity from Silero's ONNX model (:class:`~ser_cli.audio.vad.OnnxVoiceActivity`) and
the classifier runs in onnxruntime, so `ser predict --model model.onnx` starts in a fraction of torch's import
time. Everything else — labels, feature settings, normalisation statistics, the longest clip
the model sees — is read from the file's metadata (see :mod:`ser_cli.inference.onnx_export`).
It has the torch Predictor's interface, so predict, listen and eval use either.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import numpy as np

from ser_cli.errors import ModelError
from ser_cli.features.normalization import Stats
from ser_cli.inference.batch import BATCH_SIZE
from ser_cli.onnx_session import onnx_session

SUPPORTED_FORMAT_VERSION = 1  # metadata layout this reader understands
OUTPUT = "logits"  # the graph's output (see onnx_export)
SPEAKER_PREFIX = "speaker_encoder/"  # names of a voice model's speaker encoder in its graph
STAND_IN_FRAMES = 16  # frames of the classifier's stand-in input while the encoder runs


class OnnxPredictor:
    """An exported model in onnxruntime; 16 kHz audio in, emotion probabilities out."""

    def __init__(self, path: str | Path):
        from ser_cli.features.extract import FeatureConfig

        self.path = Path(path).expanduser()
        self.session = onnx_session(self.path)
        meta = _metadata(self.session, self.path)
        self.meta = meta
        self.labels: tuple[str, ...] = meta["labels"]
        self.feature_config = FeatureConfig.from_dict(meta["feature_config"])
        if self.feature_config.kind not in ("logmel", "mfcc"):
            raise ModelError(
                f"{self.path}: reads '{self.feature_config.kind}' features, which ser computes "
                "only with torch; use the run folder instead of the ONNX file."
            )
        # a voice model's graph also holds the speaker encoder; onnxruntime wants every input
        # on every run, so the side not asked for gets a one-row stand-in
        self.speaker = _speaker_encoder(self.session, meta, self.path)
        self._idle_speaker = speaker_stand_in(self.speaker) if self.speaker else {}
        self._idle_classifier: dict | None = None
        self.global_stats = Stats(meta["global_mean"], meta["global_std"])
        self.max_frames = meta["max_eval_frames"]
        self.min_frames = meta["min_frames"]  # a CNN pools time: it needs this many
        self.batch_size = BATCH_SIZE
        self.temperature = meta["temperature"]  # calibration (1: none)
        self.normalization = meta["normalization"]
        self.model_name = meta["model"]
        self.warnings: list[str] = []

    def set_threads(self, threads: int) -> None:
        """Run the classifier on ``threads`` CPU threads (``ser listen``: one), without torch."""
        self.session = onnx_session(self.path, threads)

    @cached_property
    def vad(self):
        """Voice activity detector, loaded on first use (only timelines and listen need it)."""
        from ser_cli.audio.vad import OnnxVoiceActivity

        return OnnxVoiceActivity()

    def features(self, samples: np.ndarray, voice: np.ndarray | None = None) -> np.ndarray:
        """Frame features of 16 kHz audio, as in training. (n,) -> (frames, dims); ``voice``:
        the embedding a voice model gets beside each frame instead of the clip's own."""
        from ser_cli.features.extract import with_voice
        from ser_cli.features.numpy_mel import compute_features_numpy

        frames = compute_features_numpy(samples, self.feature_config)
        if voice is not None and not self.speaker:
            raise ModelError(f"{self.path}: reads no voice features; no voice embedding to add.")
        if voice is not None:
            frames = with_voice(frames, voice)
        elif self.speaker:  # features.voice: the clip's voice embedding beside each frame
            from ser_cli.features.numpy_voice import append_voice

            frames = append_voice(frames, samples, self.encode_partials)
        return frames

    @property
    def voice_encoder(self):
        """The file's speaker encoder (:meth:`encode_partials`) for a model that reads voice
        features, else None."""
        return self.encode_partials if self.speaker else None

    def encode_partials(self, mels: np.ndarray) -> np.ndarray:
        """The file's speaker encoder: (partials, 160, 40) mel power -> (partials, 256)."""
        if self._idle_classifier is None:
            self._idle_classifier = classifier_stand_in(self.feature_config.dims, self.min_frames)
        mels = np.ascontiguousarray(mels, dtype=np.float32)
        feed = {self.speaker["input"]: mels, **self._idle_classifier}
        return self.session.run([self.speaker["output"]], feed)[0]

    @property
    def max_seconds(self) -> float:
        """The longest audio the model reads whole: `ser predict`'s default window."""
        return self.max_frames / self.feature_config.frames_per_second

    def predict_batch(
        self, feats: list[np.ndarray], stats: list[Stats | None] | None = None
    ) -> np.ndarray:
        """Probabilities (clips, classes) for clips' features, each (frames, dims).

        The same batching as the torch path (:func:`ser_cli.inference.batch.iter_batches`):
        each clip normalised by its ``stats`` (None: the training data's), centre-cropped to
        the model's max frames, padded to its batch's longest clip with a mask; logits are
        divided by the checkpoint's calibration temperature before the softmax.
        """
        from ser_cli.inference.batch import iter_batches

        out = np.zeros((len(feats), len(self.labels)), dtype=np.float32)
        chosen = [s if s is not None else self.global_stats for s in (stats or [None] * len(feats))]
        for x, mask, index in iter_batches(
            feats, chosen, self.batch_size, self.max_frames, self.min_frames
        ):
            feed = {"x": x, "mask": mask, **self._idle_speaker}
            logits = self.session.run([OUTPUT], feed)[0]
            out[index] = softmax(logits / self.temperature)
        return out

    def as_dict(self, probs: np.ndarray) -> dict[str, float]:
        """{label: probability} of one clip's (classes,) probabilities, at full precision."""
        return {label: float(p) for label, p in zip(self.labels, probs, strict=True)}

    def uses_speaker_stats(self) -> bool:
        return self.normalization == "speaker"


def _metadata(session, path: Path) -> dict:
    props = session.get_modelmeta().custom_metadata_map
    try:
        meta = {k[len("ser.") :]: json.loads(v) for k, v in props.items() if k.startswith("ser.")}
    except json.JSONDecodeError:
        raise ModelError(
            f"{path}: its ser metadata is not valid JSON; re-export the model."
        ) from None
    if meta.get("format") != "ser-onnx":
        raise ModelError(
            f"{path}: an ONNX file without ser metadata (labels, features); "
            "export models with `ser export` so they describe themselves."
        )
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelError(f"{path}: its ser format_version is not a number; re-export the model.")
    if version > SUPPORTED_FORMAT_VERSION:
        raise ModelError(
            f"{path}: exported by a newer ser ({meta.get('ser_version')}); upgrade ser-cli."
        )
    missing = [
        k
        for k in (
            "labels",
            "feature_config",
            "global_mean",
            "global_std",
            "max_eval_frames",
            "normalization",
            "model",
        )
        if k not in meta
    ]
    if missing:
        raise ModelError(f"{path}: ser metadata lacks {', '.join(missing)}; re-export the model.")
    from ser_cli.models.metadata import check_onnx

    dims = _last_dim(session.get_inputs())
    outputs = _last_dim(session.get_outputs()) or _probe_outputs(session, dims, meta)
    return check_onnx(meta, outputs, dims, path)


def _last_dim(nodes) -> int | None:
    """The size of the first graph input's (or output's) last axis, when the graph fixes it."""
    size = nodes[0].shape[-1] if nodes and nodes[0].shape else None
    return size if isinstance(size, int) else None


def _probe_outputs(session, dims: int | None, meta: dict) -> int | None:
    """The graph's output size where its shape leaves it open: one run on silence."""
    frames = meta.get("min_frames", 1)
    if not dims or not isinstance(frames, int) or not 1 <= frames <= 10_000:
        return None
    try:
        feed = classifier_stand_in(dims, frames)
        speaker = meta.get("speaker_encoder")
        if isinstance(speaker, dict) and isinstance(speaker.get("input"), str):
            feed.update(speaker_stand_in(speaker))
        logits = session.run([OUTPUT], feed)[0]
    except Exception:  # noqa: BLE001 - a graph that cannot run is reported by check_onnx's peers
        return None
    return int(logits.shape[-1])


def _speaker_encoder(session, meta: dict, path: Path) -> dict | None:
    """A voice model's ``speaker_encoder`` metadata, checked against the graph; None for a
    model without voice features (whose files may lack the key: it came with voice export)."""
    if not meta["feature_config"].get("voice"):
        return None
    speaker = meta.get("speaker_encoder")
    if speaker is None:
        raise ModelError(
            f"{path}: reads voice features but carries no speaker encoder; "
            "re-export the run with `ser export`."
        )
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    if (
        not isinstance(speaker, dict)
        or not isinstance(speaker.get("input"), str)
        or not isinstance(speaker.get("output"), str)
        or speaker["input"] not in inputs
        or speaker["output"] not in outputs
        or type(speaker.get("bands")) is not int
        or inputs[speaker["input"]][-1] != speaker["bands"]
    ):
        raise ModelError(
            f"{path}: its speaker_encoder metadata does not name the graph's speaker encoder; "
            "re-export the run with `ser export`."
        )
    return speaker


def classifier_stand_in(dims: int, min_frames: int = 1) -> dict[str, np.ndarray]:
    """An idle input for the classifier while only the speaker encoder is wanted: one clip of
    zeros, as short as the model allows."""
    frames = max(min_frames, STAND_IN_FRAMES)
    return {
        "x": np.zeros((1, frames, dims), dtype=np.float32),
        "mask": np.ones((1, frames), dtype=bool),
    }


def speaker_stand_in(speaker: dict) -> dict[str, np.ndarray]:
    """An idle input for the speaker encoder while only the classifier is wanted: one partial
    of one frame (a zero-size input would crash onnxruntime's LSTM)."""
    return {speaker["input"]: np.zeros((1, 1, speaker.get("bands", 40)), dtype=np.float32)}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (batch, classes) logits, in float64 for a stable sum."""
    z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
