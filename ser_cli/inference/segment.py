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
   classified with OVERLAP / 2 seconds of its neighbours' audio on either side;
3. an utterance (the outer edges of its first and last part, when split) is classified with
   up to CONTEXT seconds of the pause on each side, as a clip classified alone keeps the
   silence around its speech: the feature pipeline's own silence trim, not the detector's
   tight boundary, then decides where the speech the model reads begins and ends. The
   context never reaches past the middle of a pause (so never into the neighbouring
   utterance, nor onto audio given to it) or past the file, and never makes the audio
   longer than ``longest``.

Each speech row says which audio to classify (``audio_start``, ``audio_end``); the rows
themselves never overlap and keep the utterance's boundaries, so subtitles and label tracks
made from them do not overlap either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

OVERLAP = 1.0  # seconds of audio shared by neighbouring parts of an over-long utterance
# Seconds of the surrounding pause classified with an utterance, on each side (the idea of
# Silero's speech_pad_ms). Silero's spans can start inside a weak onset, while a clip
# classified alone (and every training clip) reaches the model with whatever the feature
# pipeline's silence trim (features.trim_silence) keeps, which often starts before Silero's
# span (how far, on the bundled model's training clips: "trim_margins" in
# benchmarks/results/segmentation.json); with this context the trim, not the detector,
# decides where the speech begins. Half the default --pause, so with the defaults no pause
# audio is given to both its neighbours.
CONTEXT = 0.25


@dataclass(frozen=True)
class Row:
    """One row of a recording's timeline, in seconds."""

    start: float
    end: float
    speech: bool
    # the audio classified for a speech row: the row, widened by CONTEXT into the pauses and
    # by OVERLAP / 2 into the neighbouring parts of a split utterance (start/end otherwise)
    audio_start: float
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
    found = utterances(spans, duration, pause)
    for k, (start, end) in enumerate(found):
        if start > cursor:
            rows.append(Row(cursor, start, False, cursor, start))
        # the pause audio this utterance may be classified with: its half of each pause
        lo = max(start - CONTEXT, (cursor + start) / 2 if k else 0.0)
        hi = min(end + CONTEXT, (end + found[k + 1][0]) / 2 if k + 1 < len(found) else duration)
        rows += _parts(start, end, longest, lo, hi)
        cursor = end
    if cursor < duration:
        rows.append(Row(cursor, duration, False, cursor, duration))
    return rows


def _parts(start: float, end: float, longest: float, lo: float, hi: float) -> list[Row]:
    """One utterance as rows no longer than the model reads whole, its audio reaching out to
    ``lo`` and ``hi`` in the pauses around it (see the module docstring)."""
    length = end - start
    if length <= longest:
        spare = (longest - length) / 2  # what fits of the context on each side
        return [Row(start, end, True, start - min(start - lo, spare), end + min(hi - end, spare))]
    step = max(longest - OVERLAP, longest / 2)  # rows this long leave room for the overlap
    n = math.ceil(length / step)
    edges = [start + length * i / n for i in range(n)] + [end]  # end exactly: rows tile
    margin = (longest - length / n) / 2  # what fits of OVERLAP / 2 on each side
    margin = min(OVERLAP / 2, max(margin, 0.0))
    return [
        Row(a, b, True, max(lo, a - margin), min(hi, b + margin))
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
