"""How a prediction is made: one frozen set of options for the local engine, Ray and listen.

`ser predict` builds a :class:`PredictOptions` from its flags, and the same object reaches
:func:`~ser_cli.inference.predictor.predict_files` in this process or inside every Ray actor,
so the two engines share their defaults and their checks. An engine that cannot honour an
option refuses it in one line (:func:`~ser_cli.inference.ray_engine.check_ray_options`);
none is ignored. `ser listen` checks its window, hop and minimum confidence with the same
functions (:func:`check_window`, ``check_min_confidence``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ser_cli.errors import UsageError
from ser_cli.inference.calibration import check_min_confidence

SEGMENT_MODES = ("vad", "fixed")  # long recordings: by utterance, or in fixed windows
ADAPT_MODES = ("none", "all", "folder")  # who shares a speaker: nobody, all inputs, each folder
PAUSE = 0.5  # seconds: shorter pauses inside speech are bridged, longer ones are silence rows
HOP_FRACTION = 0.5  # of the window, between fixed window starts, unless --hop says otherwise


@dataclass(frozen=True)
class PredictOptions:
    """Everything but the model and the inputs that decides what `ser predict` returns."""

    # Long recordings (longer than the model reads whole): 'vad' = one row per utterance and
    # per pause, 'fixed' = windows of `window` s every `hop` s. None: 'fixed' when a window or
    # a hop is given, otherwise 'vad'.
    segment: str | None = None
    window: float | None = None  # fixed: seconds per window (None: the model's longest input)
    hop: float | None = None  # fixed: seconds between window starts (None: half the window)
    pause: float = PAUSE  # vad: seconds of non-speech that end an utterance
    min_confidence: float = 0.0  # below this top probability the label is UNCERTAIN
    adapt: str = "none"  # speaker adaptation: ADAPT_MODES
    top_k: int | None = None  # the K most likely emotions shown (rendering only)
    # Files the model reads whole are checked for speech first (Silero) and those without a
    # stretch of it reported as silence; False classifies every audible one, as `ser eval`
    # does (the check calls some emotional speech silence: docs/accuracy.md).
    speech_check: bool = True

    def __post_init__(self) -> None:
        if self.segment is not None and self.segment not in SEGMENT_MODES:
            raise UsageError(
                f"--segment must be one of {', '.join(SEGMENT_MODES)} (got '{self.segment}')."
            )
        if self.segment == "vad" and (self.window is not None or self.hop is not None):
            raise UsageError(
                "--window and --hop cut fixed windows; use them with --segment fixed "
                "(--segment vad cuts at the pauses)."
            )
        if self.adapt not in ADAPT_MODES:
            raise UsageError(
                f"--adapt must be one of {', '.join(ADAPT_MODES)} (got '{self.adapt}')."
            )
        if not (math.isfinite(self.pause) and self.pause > 0):
            raise UsageError(f"--pause must be a positive number of seconds (got {self.pause:g}).")
        if self.top_k is not None and self.top_k < 1:
            raise UsageError(f"--top-k must be at least 1 (got {self.top_k}).")
        check_min_confidence(self.min_confidence)
        if self.window is not None:
            check_window(self.window, self.hop if self.hop is not None else self.window)
        elif self.hop is not None:
            check_window(None, self.hop)

    @property
    def mode(self) -> str:
        """The segmentation actually used for long recordings: 'vad' or 'fixed'."""
        if self.segment is not None:
            return self.segment
        return "fixed" if self.window is not None or self.hop is not None else "vad"

    def windows(self, longest: float) -> tuple[float, float]:
        """(window, hop) in seconds for fixed windows, given the model's longest input."""
        window = self.window if self.window is not None else longest
        hop = self.hop if self.hop is not None else HOP_FRACTION * window
        check_window(window, hop)
        return window, hop


def check_window(window: float | None, hop: float) -> None:
    """--window and --hop as finite seconds, the window long enough to classify."""
    from ser_cli.audio.io import MIN_DURATION

    if window is not None and not (math.isfinite(window) and window >= MIN_DURATION):
        raise UsageError(f"--window must be at least {MIN_DURATION:g} seconds (got {window:g}).")
    if not (math.isfinite(hop) and hop > 0):
        raise UsageError(f"--hop must be a positive number of seconds (got {hop:g}).")
