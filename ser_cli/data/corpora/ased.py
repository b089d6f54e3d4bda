"""ASED, the Amharic Speech Emotional Dataset: 65 speakers, five emotions, one folder each.

The layout is ``01Neutral/``, ``02Fearful/``, ``03Happy/``, ``04Sad/``, ``05Angry/``, and a file
name is ``xn-yy-aa-gg-bb``, e.g. ``a5-03-01-02-50.flac``: emotion letter and folder number,
sentence, repetition, gender (01 female, 02 male) and speaker (01-65). The emotion is read from
the name and must agree with the folder. Five speakers appear under both gender codes in the
public copy, so the speaker is the last field alone and gender is kept per clip.
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
    lookup,
    name_fields,
    parse_tree,
)

NAME = "ased"
DESCRIPTION = "ASED: 05Angry/a5-03-01-02-50.flac"

# The public copy spells one emotion letter in capitals (S4-04-02-01-29): case is ignored.
_SHAPE = re.compile(r"^([nfhsa][1-5])-(\d{2})-(\d{2})-(\d{2})-(\d{2})$", re.IGNORECASE)

# Emotion code (letter and folder number) -> canonical label.
EMOTION = {"n1": "neutral", "f2": "fearful", "h3": "happy", "s4": "sad", "a5": "angry"}
# The folder each emotion code lives in.
FOLDER = {"n1": "01Neutral", "f2": "02Fearful", "h3": "03Happy", "s4": "04Sad", "a5": "05Angry"}
GENDER = {"01": FEMALE, "02": MALE}


def matches(path: Path, root: Path) -> bool:
    """True when the file name has ASED's xn-yy-aa-gg-bb shape."""
    return _SHAPE.match(path.stem) is not None


def parse_file(path: Path, root: Path) -> ParsedClip:
    """Parse one ASED file name; raises Mismatch when it does not follow the convention."""
    emotion, sentence, repetition, gender, speaker = name_fields(
        path, _SHAPE, "name is not an ASED name xn-yy-aa-gg-bb (a5-03-01-02-50)"
    )
    emotion = emotion.lower()
    label = lookup(emotion, EMOTION, "emotion")
    folder = path.parent.name
    if folder in FOLDER.values() and folder != FOLDER[emotion]:
        raise Mismatch(f"emotion code '{emotion}' ({label}) sits in folder '{folder}'")
    return ParsedClip(
        path=path,
        label=label,
        speaker=speaker,
        gender=lookup(gender, GENDER, "gender"),
        fields={"sentence": sentence, "repetition": repetition},
    )


def parse(root: Path) -> ParseResult:
    """Every audio file under ``root``, parsed as ASED."""
    return parse_tree(root, parse_file)
