"""A user's CSV list of clips: ``path,label[,speaker][,gender]`` with a header row.

Paths may be absolute or relative to the CSV's own folder. Labels may be any spelling
``labels.canonical_label`` knows. An empty speaker becomes ``unknown``; gender may be
male/female (or m/f) or empty. Other columns are kept as corpus fields in the manifest.
Rows that cannot be used (unknown label, missing file, repeated path) are rejected with the
row number, never dropped silently.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ser_cli.data.corpora.base import (
    FEMALE,
    MALE,
    UNKNOWN_GENDER,
    UNKNOWN_SPEAKER,
    ParsedClip,
    ParseResult,
    Rejected,
)
from ser_cli.data.manifest import STANDARD_COLUMNS
from ser_cli.errors import DatasetError
from ser_cli.labels import EMOTIONS, canonical_label

NAME = "csv"
DESCRIPTION = "a CSV file with a header path,label[,speaker][,gender]"

CSV_SUFFIX = ".csv"
# Header spellings accepted for each column the parser reads.
COLUMN_ALIASES = {
    "path": ("path", "file", "filename", "audio"),
    "label": ("label", "emotion"),
    "speaker": ("speaker", "actor", "speaker_id"),
    "gender": ("gender", "sex"),
}
GENDER = {"m": MALE, "male": MALE, "f": FEMALE, "female": FEMALE, "": UNKNOWN_GENDER}
_FIRST_DATA_ROW = 2  # row 1 is the header


def is_csv(root: Path) -> bool:
    """True when the corpus is itself a CSV file (what ``--dataset auto`` looks for)."""
    return root.is_file() and root.suffix.lower() == CSV_SUFFIX


def parse(root: Path) -> ParseResult:
    """Read the CSV at ``root``; raises DatasetError when it is missing or lacks path/label."""
    csv_path = Path(root).absolute()
    if not csv_path.is_file():
        raise DatasetError(
            f"{csv_path}: --dataset csv takes a CSV file of path,label[,speaker][,gender]; "
            "pass the file, not a folder."
        )
    header, rows = _read(csv_path)
    columns = _columns(header, csv_path)
    extra = [c for c in header if c and c not in columns.values() and c not in STANDARD_COLUMNS]
    result = ParseResult()
    first_row: dict[Path, int] = {}
    for number, row in enumerate(rows, start=_FIRST_DATA_ROW):
        parsed = _parse_row(row, number, columns, extra, csv_path, first_row)
        if isinstance(parsed, Rejected):
            result.rejected.append(parsed)
        else:
            result.clips.append(parsed)
    return result


def _read(csv_path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        # utf-8-sig: spreadsheet programs often start the file with a byte-order mark.
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [(name or "").strip().lower() for name in reader.fieldnames or []]
            reader.fieldnames = header
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{csv_path}: not a readable UTF-8 CSV ({exc}).") from None
    return header, rows


def _columns(header: list[str], csv_path: Path) -> dict[str, str]:
    """Map each known column to the header name it goes by in this file."""
    found = {}
    for column, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in header:
                found[column] = alias
                break
    missing = [c for c in ("path", "label") if c not in found]
    if missing:
        raise DatasetError(
            f"{csv_path}: the CSV lacks column(s) {', '.join(missing)}; its first row must be "
            f"a header such as path,label,speaker,gender (found: {', '.join(header) or 'nothing'})."
        )
    return found


def _parse_row(
    row: dict[str, str],
    number: int,
    columns: dict[str, str],
    extra: list[str],
    csv_path: Path,
    first_row: dict[Path, int],
) -> ParsedClip | Rejected:
    def cell(column: str) -> str:
        return (row.get(columns.get(column, ""), "") or "").strip()

    if not cell("path"):
        return Rejected(csv_path, f"row {number}: the path is empty")
    # abspath, not resolve: normalise "a/../b" so repeats are caught, but keep symlinks.
    path = Path(os.path.abspath(csv_path.parent / Path(cell("path")).expanduser()))
    if path in first_row:
        return Rejected(path, f"row {number}: listed again (first on row {first_row[path]})")
    first_row[path] = number
    label = canonical_label(cell("label"))
    if label is None:
        return Rejected(
            path, f"row {number}: label '{cell('label')}' is not one of {', '.join(EMOTIONS)}"
        )
    gender = GENDER.get(cell("gender").lower())
    if gender is None:
        return Rejected(
            path, f"row {number}: gender '{cell('gender')}' is not male, female or empty"
        )
    if not path.is_file():
        return Rejected(path, f"row {number}: file not found")
    return ParsedClip(
        path=path,
        label=label,
        speaker=cell("speaker") or UNKNOWN_SPEAKER,
        gender=gender,
        fields={name: (row.get(name) or "").strip() for name in extra},
    )
