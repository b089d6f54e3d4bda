"""Cutting a long recording into what was said: utterances and the pauses between them.

From the stretches of speech the voice-activity check finds (:func:`ser_cli.audio.vad.speech_spans`),
:func:`plan_rows` makes the rows `ser predict` reports for a recording, which tile it from
start to end:

1. a pause shorter than ``pause`` seconds (inside a sentence, a breath) is bridged: the speech
   on both sides is one utterance; a pause at least that long is a ``silence`` row, and so is
   the stretch before the first and after the last utterance when it is that long (a shorter
   one joins the utterance beside it);
2. an utterance the model can read whole (``longest`` seconds) is one row, classified whole;
   a longer one is split into equal parts no longer than ``longest - OVERLAP``, each part
   classified with OVERLAP / 2 seconds of its neighbours' audio on either side.

Each speech row says which audio to classify (``audio_start``, ``audio_end``); the rows
themselves never overlap, so subtitles and label tracks made from them do not either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

OVERLAP = 1.0  # seconds of audio shared by neighbouring parts of an over-long utterance


@dataclass(frozen=True)
class Row:
    """One row of a recording's timeline, in seconds."""

    start: float
    end: float
    speech: bool
    audio_start: float  # the audio classified for a speech row (equal to start/end otherwise)
    audio_end: float


def utterances(
    spans: list[tuple[float, float]], duration: float, pause: float
) -> list[tuple[float, float]]:
    """Speech stretches -> utterances: gaps shorter than ``pause`` bridged, and the file's
    edges joined to the first / last utterance when closer than ``pause``."""
    merged: list[list[float]] = []
    for start, end in spans:
        if merged and start - merged[-1][1] < pause:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if merged and merged[0][0] < pause:
        merged[0][0] = 0.0
    if merged and duration - merged[-1][1] < pause:
        merged[-1][1] = duration
    return [(a, b) for a, b in merged]


def plan_rows(
    spans: list[tuple[float, float]], duration: float, longest: float, pause: float
) -> list[Row]:
    """The rows of a recording of ``duration`` s; see the module docstring."""
    rows: list[Row] = []
    cursor = 0.0
    for start, end in utterances(spans, duration, pause):
        if start > cursor:
            rows.append(Row(cursor, start, False, cursor, start))
        rows += _parts(start, end, longest)
        cursor = end
    if cursor < duration:
        rows.append(Row(cursor, duration, False, cursor, duration))
    return rows


def _parts(start: float, end: float, longest: float) -> list[Row]:
    """One utterance as rows no longer than the model reads whole (see the module docstring)."""
    length = end - start
    if length <= longest:
        return [Row(start, end, True, start, end)]
    step = max(longest - OVERLAP, longest / 2)  # rows this long leave room for the overlap
    n = math.ceil(length / step)
    edges = [start + length * i / n for i in range(n + 1)]
    margin = (longest - length / n) / 2  # what fits of OVERLAP / 2 on each side
    margin = min(OVERLAP / 2, max(margin, 0.0))
    return [
        Row(a, b, True, max(start, a - margin), min(end, b + margin))
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
