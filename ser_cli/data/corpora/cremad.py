"""CREMA-D (Cao et al. 2014): 91 actors, 12 sentences, 6 emotions.

A file name is ``SPEAKER_SENTENCE_EMOTION_LEVEL``, e.g. ``1001_DFA_ANG_XX.wav``: speaker
1001..1091, sentence code, emotion (ANG DIS FEA HAP NEU SAD) and intensity (LO MD HI, or XX
unspecified). Gender lives in the corpus's separate demographics table, not in the name, so it
is left empty here.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_cli.data.corpora.base import (
    Mismatch,
    ParsedClip,
    ParseResult,
    check_one_of,
    lookup,
    name_fields,
    parse_tree,
)

NAME = "cremad"
DESCRIPTION = "CREMA-D: 1001_DFA_ANG_XX.wav"

_SHAPE = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")

FIRST_SPEAKER, LAST_SPEAKER = 1001, 1091
SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
EMOTION = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
INTENSITY = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}


def matches(path: Path, root: Path) -> bool:
    """True when the file name has CREMA-D's four-field shape."""
    return _SHAPE.match(path.stem) is not None


def parse_file(path: Path, root: Path) -> ParsedClip:
    """Parse one CREMA-D file name; raises Mismatch when it does not follow the convention."""
    speaker, sentence, emotion, intensity = name_fields(
        path,
        _SHAPE,
        "name is not a CREMA-D name SPEAKER_SENTENCE_EMOTION_LEVEL (1001_DFA_ANG_XX)",
    )
    if not FIRST_SPEAKER <= int(speaker) <= LAST_SPEAKER:
        raise Mismatch(f"speaker '{speaker}' is not one of {FIRST_SPEAKER}..{LAST_SPEAKER}")
    check_one_of(sentence, SENTENCES, "sentence code")
    return ParsedClip(
        path=path,
        label=lookup(emotion, EMOTION, "emotion"),
        speaker=speaker,
        fields={"sentence": sentence, "intensity": lookup(intensity, INTENSITY, "intensity")},
    )


def parse(root: Path) -> ParseResult:
    """Every audio file under ``root``, parsed as CREMA-D."""
    return parse_tree(root, parse_file)
