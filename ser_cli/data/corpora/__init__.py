"""The corpus registry: one parser per corpus layout, and detection for ``--dataset auto``.

``DATASETS`` maps a name to its :class:`Parser`; :func:`available_datasets` lists the names,
:func:`get_parser` looks one up (an unknown name fails with the valid ones) and
:func:`detect_dataset` picks the layout whose naming convention most files follow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ser_cli.data.corpora import ased, cremad, csvlist, emodb, folders, ravdess, savee, tess
from ser_cli.data.corpora.base import ParsedClip, ParseResult, Rejected, walk
from ser_cli.errors import USAGE, DatasetError

AUTO = "auto"  # --dataset value that asks for detection
# Share of a folder's audio files that must follow one convention for detection to pick it.
DETECT_MIN_SHARE = 0.5


@dataclass(frozen=True)
class Parser:
    """One corpus layout: how to read it and how to recognise its files."""

    name: str
    description: str  # one line for help and error messages
    parse: Callable[[Path], ParseResult]  # corpus root (folder, or CSV file) -> clips
    matches: Callable[[Path, Path], bool] | None  # (file, root) -> follows the convention


# Detection tries these in order; the first with the largest share of matching files wins.
DATASETS: dict[str, Parser] = {
    module.NAME: Parser(module.NAME, module.DESCRIPTION, module.parse, module.matches)
    for module in (ravdess, cremad, tess, savee, emodb, ased, folders)
}
DATASETS[csvlist.NAME] = Parser(csvlist.NAME, csvlist.DESCRIPTION, csvlist.parse, None)

__all__ = [
    "AUTO",
    "DATASETS",
    "ParsedClip",
    "ParseResult",
    "Parser",
    "Rejected",
    "available_datasets",
    "detect_dataset",
    "get_parser",
]


def available_datasets() -> list[str]:
    """The names ``--dataset`` accepts, besides ``auto``."""
    return list(DATASETS)


def get_parser(name: str) -> Parser:
    """The parser called ``name`` (case, '-' and '_' ignored: 'CREMA-D' is 'cremad').

    Raises DatasetError listing the valid names when ``name`` is unknown.
    """
    key = name.strip().lower().replace("-", "").replace("_", "")
    if key not in DATASETS:
        raise DatasetError(
            f"unknown dataset '{name}'; use one of: {AUTO}, {', '.join(available_datasets())}.",
            exit_code=USAGE,
        )
    return DATASETS[key]


def detect_dataset(root: str | Path) -> str:
    """Name the layout of the corpus at ``root`` from its file names and folders.

    A CSV file is the ``csv`` layout. For a folder, each layout's share of audio files that
    follow its convention is counted; the largest share wins if it is at least
    DETECT_MIN_SHARE. Raises DatasetError for a missing or empty corpus, or when no layout fits.
    """
    root = Path(root).absolute()
    if csvlist.is_csv(root):
        return csvlist.NAME
    files, _ = walk(root)
    if not files:
        raise DatasetError(no_audio_message(root))
    shares = {
        parser.name: sum(parser.matches(path, root) for path in files) / len(files)
        for parser in DATASETS.values()
        if parser.matches is not None
    }
    best = max(shares, key=shares.__getitem__)  # first of equals: DATASETS order
    if shares[best] < DETECT_MIN_SHARE:
        raise DatasetError(
            f"{root}: could not tell which corpus this is (no naming convention fits most of "
            f"its {len(files)} audio files); pass --dataset with one of: "
            f"{', '.join(available_datasets())}."
        )
    return best


def no_audio_message(root: Path) -> str:
    """The error line for a corpus folder with no audio files in it."""
    from ser_cli.audio.io import AUDIO_SUFFIXES

    return (
        f"{root}: no audio files found (looked for {', '.join(AUDIO_SUFFIXES)}); "
        "check the path points at the corpus folder."
    )
