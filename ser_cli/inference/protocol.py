"""What every predictor offers: the interface predict, listen, eval and Ray rely on.

A `ser train` run or ensemble (:class:`~ser_cli.inference.predictor.TorchPredictor`), an
exported ``.onnx`` file (:class:`~ser_cli.inference.onnx_predictor.OnnxPredictor`) and a
transformers classifier (:class:`~ser_cli.inference.hub_predictor.HubPredictor`) all have these
attributes and methods, with these types; :func:`ser_cli.inference.load.load_predictor` returns
one of them. Callers read the attributes directly: there are no optional ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from ser_cli.features.normalization import Stats


@runtime_checkable
class Predictor(Protocol):
    """A loaded model that turns 16 kHz audio into emotion probabilities."""

    labels: tuple[str, ...]  # the columns of predict_batch's probabilities, in order
    batch_size: int  # clips per forward pass
    max_seconds: float  # the longest audio read whole: `ser predict`'s default window
    global_stats: Stats | None  # training-data statistics; None where the model normalises
    meta: dict  # what the model says about itself (sidecar, ONNX metadata, hub source)
    warnings: list[str]  # notes for the user from loading it (e.g. unmatched label names)
    temperature: float  # calibration: logits divided by it before the softmax (1: none)

    @property
    def vad(self):
        """Voice activity detector (``is_speech(samples) -> bool``), loaded on first use."""

    @property
    def voice_encoder(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """For a model that reads voice features (``features.voice``), its speaker encoder:
        stacked (partials, 160, 40) mel power -> (partials, 256) unit-length embeddings
        (``ser listen`` embeds the stream partial by partial); None for other models."""

    def features(self, samples: np.ndarray, voice: np.ndarray | None = None) -> np.ndarray:
        """The model's input for 16 kHz audio: (n,) -> (frames, dims). ``voice``: for a
        model with a ``voice_encoder``, the (256,) embedding beside each frame instead of the
        clip's own; refused by other models."""

    def predict_batch(
        self, feats: list[np.ndarray], stats: list[Stats | None] | None = None
    ) -> np.ndarray:
        """Probabilities (clips, classes) for clips' features; ``stats`` per clip (None: the
        training data's), ignored by models that normalise their own input."""

    def as_dict(self, probs: np.ndarray) -> dict[str, float]:
        """{label: probability} of one clip's (classes,) probabilities."""

    def uses_speaker_stats(self) -> bool:
        """True when a speaker's own statistics (``--adapt``) change the result."""

    def set_threads(self, threads: int) -> None:
        """Run on ``threads`` CPU threads (``ser listen``: one)."""
