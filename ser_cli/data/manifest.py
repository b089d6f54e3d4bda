"""The manifest: one CSV row per clip, the contract between prepare, train, eval and predict.

Columns every manifest has (``REQUIRED_COLUMNS``) come first; a corpus adds its own fields
(for RAVDESS: intensity, statement, repetition ...) after them. Paths are stored absolute so a
manifest can be used from any working directory; a hand-written manifest's relative paths are
read relative to the manifest's own folder. Labels are mapped onto the 8 canonical emotions
(``labels.canonical_label``, the rule ``ser prepare`` applies); any other label is refused.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ser_cli.atomic import write_text
from ser_cli.errors import ManifestError, UsageError
from ser_cli.labels import EMOTIONS, canonical_label

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
SPLIT_CHOICES = (*SPLITS, "all")  # what `ser eval --split` accepts
_EXAMPLES = 3  # offending paths or labels quoted in one error line


def write_manifest(rows: list[dict], target: str | Path) -> Path:
    """Atomically write ``rows`` as CSV: standard columns first, then the rest sorted."""
    return write_text(Path(target), manifest_text(rows))


def manifest_text(rows: list[dict]) -> str:
    """``rows`` as manifest CSV text: standard columns first, then the rest sorted."""
    present = {key for row in rows for key in row}
    columns = [c for c in STANDARD_COLUMNS if c in present]
    columns += sorted(present - set(columns))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return buf.getvalue()


def read_manifest(
    path: str | Path, required: tuple[str, ...] = REQUIRED_COLUMNS
) -> list[dict[str, str]]:
    """Read a manifest CSV (or a folder holding manifest.csv) into a list of row dicts.

    Relative clip paths are resolved against the manifest's folder and every clip must exist;
    labels are mapped to canonical names. Raises ManifestError when the file is missing, empty,
    lacks a required column, lists clips that no longer exist, or has labels outside the 8
    emotions.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.exists():
        raise ManifestError(
            f"{path}: manifest not found; create one with `ser prepare CORPUS_DIR --out DIR`."
        )
    if not path.is_file():
        raise ManifestError(f"{path}: not a regular file; give manifest.csv from `ser prepare`.")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # a spreadsheet's BOM too
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"{path}: not a readable CSV manifest ({exc}).") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc.strerror or exc}).") from None
    missing = [c for c in required if c not in columns]
    if missing:
        raise ManifestError(
            f"{path}: manifest lacks column(s) {', '.join(missing)}; "
            f"regenerate it with `ser prepare` (found: {', '.join(columns) or 'none'})."
        )
    if not rows:
        raise ManifestError(f"{path}: manifest has no rows.")
    if "path" in columns:
        _resolve_paths(rows, path)
    if "label" in columns:
        _canonical_labels(rows, path)
    return rows


def clips_in_two_splits(rows: list[dict]) -> list[str]:
    """Clips (by path) that rows place in more than one split: a test clip also trained on."""
    splits: dict[str, set] = {}
    for row in rows:
        if row.get("split"):
            splits.setdefault(str(row.get("path")), set()).add(row["split"])
    return sorted(path for path, seen in splits.items() if len(seen) > 1)


def manifest_warnings(path: str | Path, rows: list[dict]) -> list[str]:
    """What a user should know before training or scoring on a manifest: a clip in two splits,
    and a summary.json beside it that describes another manifest (one edited by hand, or a
    ``ser prepare`` stopped between renaming its two files)."""
    import hashlib
    import json

    notes = [w for w in (split_overlap_warning(rows),) if w]
    path = Path(path)
    manifest = path / MANIFEST_NAME if path.is_dir() else path
    summary = manifest.parent / SUMMARY_NAME
    try:
        recorded = json.loads(summary.read_text(encoding="utf-8")).get("manifest_sha256")
        actual = hashlib.sha256(manifest.read_bytes()).hexdigest()
    except (OSError, ValueError, AttributeError):
        return notes  # no summary (a hand-written manifest) or an unreadable one: nothing to say
    if recorded and recorded != actual:
        notes.append(
            f"{summary} does not describe {manifest} (the manifest was edited, or `ser prepare` "
            "was stopped between writing the two): its counts are not this manifest's; rerun "
            "`ser prepare` to bring them back together."
        )
    return notes


def split_overlap_warning(rows: list[dict]) -> str | None:
    """One warning line when a clip sits in two splits (its scores would be optimistic)."""
    twice = clips_in_two_splits(rows)
    if not twice:
        return None
    return (
        f"{len(twice)} clip(s) appear in more than one split (e.g. {twice[0]}); scores on "
        "those splits are optimistic. Rerun `ser prepare` on a list naming each clip once."
    )


def _resolve_paths(rows: list[dict], manifest: Path) -> None:
    """Make clip paths absolute (relative to the manifest's folder) and check they exist."""
    folder = manifest.absolute().parent
    missing = []
    for row in rows:
        clip = Path(row["path"] or "").expanduser()
        if not clip.is_absolute():
            clip = Path(os.path.normpath(folder / clip))
        row["path"] = str(clip)
        if not row["path"] or not clip.is_file():
            missing.append(clip)
    if missing:
        examples = ", ".join(str(m) for m in missing[:_EXAMPLES])
        raise ManifestError(
            f"{manifest}: {len(missing)} of {len(rows)} clip(s) listed are missing or not files "
            f"(e.g. {examples}); restore them or rerun `ser prepare`."
        )


def _canonical_labels(rows: list[dict], manifest: Path) -> None:
    """Map each label onto the 8 emotions; refuse the manifest when any label is foreign."""
    foreign = set()
    for row in rows:
        label = canonical_label(row["label"] or "")
        if label is None:
            foreign.add(row["label"] or "")
        else:
            row["label"] = label
    if foreign:
        shown = ", ".join(repr(f) for f in sorted(foreign)[:_EXAMPLES])
        more = f" and {len(foreign) - _EXAMPLES} more" if len(foreign) > _EXAMPLES else ""
        raise ManifestError(
            f"{manifest}: label(s) {shown}{more} are not among the 8 emotions "
            f"({', '.join(EMOTIONS)}); fix or drop those rows, or rerun `ser prepare`."
        )


def select_split(
    rows: list[dict[str, str]], split: str, source: str | Path = "manifest"
) -> list[dict[str, str]]:
    """Rows of one split; UsageError for an unknown split, ManifestError for an empty one."""
    check_split(split)
    if split == "all":
        return list(rows)
    chosen = [r for r in rows if r.get("split") == split]
    if not chosen:
        present = sorted({r.get("split", "") for r in rows})
        raise ManifestError(
            f"{source}: the '{split}' split is empty (splits present: {', '.join(present)})."
        )
    return chosen


def check_split(split: str) -> None:
    """UsageError unless ``split`` is train, val, test or all."""
    if split not in SPLIT_CHOICES:
        raise UsageError(f"unknown --split '{split}'; choose one of: {', '.join(SPLIT_CHOICES)}.")
