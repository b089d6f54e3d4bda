"""RAVDESS (Livingstone & Russo 2018): speech and song, 24 actors, 8 emotions.

A file name holds seven two-digit fields, ``MM-VV-EE-II-SS-RR-AA``:
modality, vocal channel, emotion, intensity, statement, repetition, actor. For example
``03-01-05-02-01-01-07.wav`` is audio-only speech, angry, strong, statement 1, repetition 1,
actor 07. Odd actors are male, even actors female. Files may sit in ``Actor_XX/`` folders (as
the corpus ships) or flat, as .wav or .flac at any sample rate.
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
from ser_cli.labels import EMOTIONS

NAME = "ravdess"
DESCRIPTION = "RAVDESS: MM-VV-EE-II-SS-RR-AA.wav, in Actor_XX/ folders or flat"

_SHAPE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
_ACTOR_FOLDER = re.compile(r"^Actor_(\d{2})$", re.IGNORECASE)

# Video-only files (modality 02) hold no audio, so only these two are accepted.
MODALITY = {"01": "full-AV", "03": "audio-only"}
VOCAL_CHANNEL = {"01": "speech", "02": "song"}
EMOTION = {f"{code:02d}": emotion for code, emotion in enumerate(EMOTIONS, start=1)}
INTENSITY = {"01": "normal", "02": "strong"}
STATEMENT = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
REPETITION = {"01": "1", "02": "2"}
ACTORS = tuple(f"{actor:02d}" for actor in range(1, 25))


def matches(path: Path, root: Path) -> bool:
    """True when the file name has RAVDESS's seven-field shape."""
    return _SHAPE.match(path.stem) is not None


def parse_file(path: Path, root: Path) -> ParsedClip:
    """Parse one RAVDESS file name; raises Mismatch when it does not follow the convention."""
    modality, channel, emotion, intensity, statement, repetition, actor = name_fields(
        path, _SHAPE, "name is not a RAVDESS name MM-VV-EE-II-SS-RR-AA (seven 2-digit fields)"
    )
    if modality == "02":
        raise Mismatch("modality 02 is video-only: the file holds no speech")
    if actor not in ACTORS:
        raise Mismatch(f"actor '{actor}' is not one of 01..24")
    folder = _ACTOR_FOLDER.match(path.parent.name)
    if folder and folder.group(1) != actor:
        raise Mismatch(f"the name says actor {actor} but the file is in {path.parent.name}/")
    return ParsedClip(
        path=path,
        label=lookup(emotion, EMOTION, "emotion"),
        speaker=actor,
        gender=MALE if int(actor) % 2 else FEMALE,
        fields={
            "modality": lookup(modality, MODALITY, "modality"),
            "vocal_channel": lookup(channel, VOCAL_CHANNEL, "vocal channel"),
            "intensity": lookup(intensity, INTENSITY, "intensity"),
            "statement": lookup(statement, STATEMENT, "statement"),
            "repetition": lookup(repetition, REPETITION, "repetition"),
        },
    )


def parse(root: Path) -> ParseResult:
    """Every audio file under ``root``, parsed as RAVDESS."""
    return parse_tree(root, parse_file)
