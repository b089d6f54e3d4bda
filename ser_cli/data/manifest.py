"""The manifest: one CSV row per clip, the contract between prepare, train, eval and predict.

Columns every manifest has (``REQUIRED_COLUMNS``) come first; a corpus adds its own fields
(for RAVDESS: intensity, statement, repetition ...) after them. Paths are stored absolute so a
manifest can be used from any working directory.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ser_cli.atomic import write_text
from ser_cli.errors import ManifestError

MANIFEST_NAME = "manifest.csv"
SUMMARY_NAME = "summary.json"

# Columns in the order they are written; "fold" is present only when folds were asked for.
REQUIRED_COLUMNS = ("path", "label", "speaker", "split")
STANDARD_COLUMNS = (
    "path",
    "label",
    "speaker",
    "gender",
    "split",
    "fold",
    "corpus",
    "duration",
    "sample_rate",
    "channels",
)
SPLITS = ("train", "val", "test")


def write_manifest(rows: list[dict], target: str | Path) -> Path:
    """Atomically write ``rows`` as CSV: standard columns first, then the rest sorted."""
    target = Path(target)
    present = {key for row in rows for key in row}
    columns = [c for c in STANDARD_COLUMNS if c in present]
    columns += sorted(present - set(columns))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return write_text(target, buf.getvalue())


def read_manifest(
    path: str | Path, required: tuple[str, ...] = REQUIRED_COLUMNS
) -> list[dict[str, str]]:
    """Read a manifest CSV (or a folder holding manifest.csv) into a list of row dicts.

    Raises ManifestError when the file is missing, empty or lacks a required column.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.exists():
        raise ManifestError(
            f"{path}: manifest not found; create one with `ser prepare CORPUS_DIR --out DIR`."
        )
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"{path}: not a readable CSV manifest ({exc}).") from None
    missing = [c for c in required if c not in columns]
    if missing:
        raise ManifestError(
            f"{path}: manifest lacks column(s) {', '.join(missing)}; "
            f"regenerate it with `ser prepare` (found: {', '.join(columns) or 'none'})."
        )
    if not rows:
        raise ManifestError(f"{path}: manifest has no rows.")
    return rows


def select_split(
    rows: list[dict[str, str]], split: str, source: str | Path = "manifest"
) -> list[dict[str, str]]:
    """Rows of one split; raises ManifestError when that split is empty."""
    chosen = [r for r in rows if r.get("split") == split]
    if not chosen:
        present = sorted({r.get("split", "") for r in rows})
        raise ManifestError(
            f"{source}: the '{split}' split is empty (splits present: {', '.join(present)})."
        )
    return chosen
