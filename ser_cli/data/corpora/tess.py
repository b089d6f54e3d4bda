"""TESS, the Toronto emotional speech set: two actresses, 200 words, 7 emotions.

A file name is ``SPEAKER_WORD_EMOTION``, e.g. ``OAF_back_angry.wav``: speaker OAF (older) or
YAF (younger), both female; emotion angry, disgust, fear, happy, neutral, sad or ps
("pleasant surprise", mapped to surprised). The corpus ships in folders such as
``OAF_angry/``; any layout works, only the name is read.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_cli.data.corpora.base import (
    FEMALE,
    ParsedClip,
    ParseResult,
    lookup,
    name_fields,
    parse_tree,
)

NAME = "tess"
DESCRIPTION = "TESS: OAF_back_angry.wav / YAF_..."

_SHAPE = re.compile(r"^(OAF|YAF)_([A-Za-z]+)_([A-Za-z_]+)$", re.IGNORECASE)

SPEAKERS = ("OAF", "YAF")
EMOTION = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "ps": "surprised",
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
}


def matches(path: Path, root: Path) -> bool:
    """True when the file name has TESS's SPEAKER_WORD_EMOTION shape."""
    return _SHAPE.match(path.stem) is not None


def parse_file(path: Path, root: Path) -> ParsedClip:
    """Parse one TESS file name; raises Mismatch when it does not follow the convention."""
    speaker, word, emotion = name_fields(
        path, _SHAPE, "name is not a TESS name SPEAKER_WORD_EMOTION (OAF_back_angry)"
    )
    return ParsedClip(
        path=path,
        label=lookup(emotion.lower(), EMOTION, "emotion"),
        speaker=speaker.upper(),
        gender=FEMALE,
        fields={"word": word.lower()},
    )


def parse(root: Path) -> ParseResult:
    """Every audio file under ``root``, parsed as TESS."""
    return parse_tree(root, parse_file)
