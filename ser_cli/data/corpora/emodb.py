"""EmoDB, the Berlin Database of Emotional Speech: ten actors, ten German sentences.

A file name is ``SSTTTEV``, e.g. ``03a01Fa.wav``: speaker (2 digits), text code (a01..b10),
emotion letter (German initial) and version letter. Boredom (L, Langeweile) has no canonical
label, so those clips are rejected as unmapped rather than forced into another class.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_cli.data.corpora.base import (
    FEMALE,
    MALE,
    Mismatch,
    ParsedClip,
    ParseResult,
    check_one_of,
    lookup,
    name_fields,
    parse_tree,
)

NAME = "emodb"
DESCRIPTION = "EmoDB: 03a01Fa.wav"

_SHAPE = re.compile(r"^(\d{2})([a-z]\d{2})([A-Z])([a-z])$")

EMOTION = {
    "W": "angry",  # Wut
    "E": "disgust",  # Ekel
    "A": "fearful",  # Angst
    "F": "happy",  # Freude
    "T": "sad",  # Trauer
    "N": "neutral",
}
UNMAPPED = {"L": "boredom"}  # Langeweile: not one of the canonical emotions
SPEAKER_GENDER = {
    "03": MALE,
    "10": MALE,
    "11": MALE,
    "12": MALE,
    "15": MALE,
    "08": FEMALE,
    "09": FEMALE,
    "13": FEMALE,
    "14": FEMALE,
    "16": FEMALE,
}


def matches(path: Path, root: Path) -> bool:
    """True when the file name has EmoDB's SSTTTEV shape."""
    return _SHAPE.match(path.stem) is not None


def parse_file(path: Path, root: Path) -> ParsedClip:
    """Parse one EmoDB file name; raises Mismatch when it does not follow the convention."""
    speaker, text, emotion, version = name_fields(
        path, _SHAPE, "name is not an EmoDB name SSTTTEV (03a01Fa)"
    )
    if emotion in UNMAPPED:
        raise Mismatch(
            f"unmapped emotion: '{emotion}' ({UNMAPPED[emotion]}) is not one of the 8 labels"
        )
    check_one_of(speaker, sorted(SPEAKER_GENDER), "speaker")
    return ParsedClip(
        path=path,
        label=lookup(emotion, EMOTION, "emotion"),
        speaker=speaker,
        gender=SPEAKER_GENDER[speaker],
        fields={"text": text, "version": version},
    )


def parse(root: Path) -> ParseResult:
    """Every audio file under ``root``, parsed as EmoDB."""
    return parse_tree(root, parse_file)
