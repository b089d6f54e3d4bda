"""SAVEE, Surrey Audio-Visual Expressed Emotion: four male speakers, 7 emotions.

A clip is ``SPEAKER_CODENN.wav`` (``DC_a01.wav``, the flat layout) or ``SPEAKER/CODENN.wav``
(``DC/a01.wav``, the layout the corpus ships in): speaker DC, JE, JK or KL; emotion code
a (angry), d (disgust), f (fear), h (happy), n (neutral), sa (sad), su (surprise); NN is the
sentence number.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_cli.data.corpora.base import (
    MALE,
    Mismatch,
    ParsedClip,
    ParseResult,
    check_one_of,
    lookup,
    parse_tree,
)

NAME = "savee"
DESCRIPTION = "SAVEE: DC_a01.wav or DC/a01.wav"

SPEAKERS = ("DC", "JE", "JK", "KL")
EMOTION = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}

_FLAT = re.compile(r"^([A-Za-z]{2})_([a-z]{1,2})(\d{2})$")
_FOLDER = re.compile(r"^([a-z]{1,2})(\d{2})$")


def _fields(path: Path) -> tuple[str, str, str] | None:
    """(speaker, emotion code, sentence) from either layout, or None for a foreign name."""
    flat = _FLAT.match(path.stem)
    if flat:
        return flat.group(1).upper(), flat.group(2), flat.group(3)
    nested = _FOLDER.match(path.stem)
    if nested and path.parent.name.upper() in SPEAKERS:
        return path.parent.name.upper(), nested.group(1), nested.group(2)
    return None


def matches(path: Path, root: Path) -> bool:
    """True for DC_a01-style names, or a01-style names inside a speaker folder."""
    found = _fields(path)
    return found is not None and found[0] in SPEAKERS


def parse_file(path: Path, root: Path) -> ParsedClip:
    """Parse one SAVEE file; raises Mismatch when it does not follow the convention."""
    found = _fields(path)
    if found is None:
        raise Mismatch("name is not a SAVEE name DC_a01 (or a01 inside a DC/ JE/ JK/ KL/ folder)")
    speaker, emotion, sentence = found
    check_one_of(speaker, SPEAKERS, "speaker")
    return ParsedClip(
        path=path,
        label=lookup(emotion, EMOTION, "emotion"),
        speaker=speaker,
        gender=MALE,
        fields={"sentence": sentence},
    )


def parse(root: Path) -> ParseResult:
    """Every audio file under ``root``, parsed as SAVEE."""
    return parse_tree(root, parse_file)
