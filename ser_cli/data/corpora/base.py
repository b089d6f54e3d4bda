"""What every corpus parser returns, and the folder walk and name checks the parsers share.

A parser turns a corpus into :class:`ParsedClip` records (canonical label, speaker, gender and
the corpus's own fields) and :class:`Rejected` records (a file it could not place, with the
reason). It only reads names and layout; audio validation happens later, in ``prepare``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from ser_cli.audio.io import AUDIO_SUFFIXES
from ser_cli.errors import DatasetError

# Gender values written to the manifest; "" where the corpus does not say.
MALE = "male"
FEMALE = "female"
UNKNOWN_GENDER = ""

# Speaker id for clips whose corpus layout names no speaker.
UNKNOWN_SPEAKER = "unknown"


@dataclass(frozen=True)
class ParsedClip:
    """One file a parser could place: where it is, what it is labelled and who speaks."""

    path: Path  # absolute path to the audio file
    label: str  # one of labels.EMOTIONS
    speaker: str  # speaker id as the corpus spells it, e.g. "07" (RAVDESS) or "DC" (SAVEE)
    gender: str = UNKNOWN_GENDER  # MALE, FEMALE or UNKNOWN_GENDER
    fields: dict[str, str] = field(default_factory=dict)  # corpus-specific manifest columns


@dataclass(frozen=True)
class Rejected:
    """A file left out of the manifest, and why (shown in the report and summary.json)."""

    path: Path
    reason: str


@dataclass
class ParseResult:
    """What a parser found in a corpus."""

    clips: list[ParsedClip] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    ignored: int = 0  # files that are not audio (README, CSV, images): skipped, only counted


class Mismatch(Exception):
    """A file does not follow the corpus convention; the message is the reason.

    Raised by per-file parsers and caught in :func:`parse_tree`, which turns it into a
    :class:`Rejected` record: it never leaves the datasets package.
    """


# Per-file parser: (audio path, corpus root) -> clip; raises Mismatch for a foreign file.
FileParser = Callable[[Path, Path], ParsedClip]


def is_audio(path: Path) -> bool:
    """True for a file whose suffix libsndfile may read (see audio.AUDIO_SUFFIXES)."""
    return path.suffix.lower() in AUDIO_SUFFIXES


def walk(root: Path) -> tuple[list[Path], int]:
    """Audio files under ``root``, sorted, and the number of other files skipped.

    Raises DatasetError when ``root`` is missing or is not a folder.
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: corpus folder not found; check the path.")
    if not root.is_dir():
        raise DatasetError(
            f"{root}: is a file, not a corpus folder; pass the folder, "
            "or a CSV of path,label[,speaker] with --dataset csv."
        )
    # Not only regular files: a broken link or a FIFO named like a clip is kept here so that
    # audio validation rejects it with a reason, instead of it vanishing from the report.
    files = sorted(p for p in root.rglob("*") if not p.is_dir())
    audio = [p.absolute() for p in files if is_audio(p)]
    return audio, len(files) - len(audio)


def parse_tree(root: Path, parse_file: FileParser) -> ParseResult:
    """Apply a per-file parser to every audio file under ``root``, in sorted order."""
    root = Path(root).absolute()
    files, ignored = walk(root)
    result = ParseResult(ignored=ignored)
    for path in files:
        try:
            result.clips.append(parse_file(path, root))
        except Mismatch as exc:
            result.rejected.append(Rejected(path, str(exc)))
    return result


def name_fields(path: Path, shape: re.Pattern[str], mismatch: str) -> tuple[str, ...]:
    """The groups of ``shape`` matched against the file name (without its suffix).

    Raises Mismatch with the reason ``mismatch`` when the name does not have that shape.
    """
    found = shape.match(path.stem)
    if found is None:
        raise Mismatch(mismatch)
    return found.groups()


def check_one_of(value: str, valid: Collection[str], what: str) -> None:
    """Raises Mismatch naming the valid values when ``value`` is not one of them."""
    if value not in valid:
        raise Mismatch(f"{what} '{value}' is not one of {', '.join(valid)}")


def lookup(code: str, table: dict[str, str], what: str) -> str:
    """``table[code]``; raises Mismatch naming the valid codes when ``code`` is unknown."""
    check_one_of(code, table, f"{what} code")
    return table[code]
