"""Turn a corpus into a manifest: parse names, validate audio, split, write, return.

:func:`prepare_corpus` is the library behind ``ser prepare``. It writes
``out_dir/manifest.csv`` (one row per usable clip, absolute paths) and ``out_dir/summary.json``
atomically, so a rerun simply replaces them, and returns the same rows. Both are written in full
to temporary files first; summary.json (which records the manifest's SHA-256) is renamed into
place first and manifest.csv last, as the commit point. Temporary files a killed run left are
removed by the next run. Files it cannot use
(a name outside the corpus convention, an unmapped emotion, audio that fails
:func:`ser_cli.audio.io.load_audio`) are listed in ``rejected`` with a reason each; they never stop
the run. Same corpus, options and seed give a byte-identical manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ser_cli.__version__ import __version__
from ser_cli.atomic import atomic_path, check_output_dir, remove_stale_temps
from ser_cli.data import corpora as datasets
from ser_cli.data.corpora.base import ParsedClip, Rejected
from ser_cli.data.manifest import (
    MANIFEST_NAME,
    SPLITS,
    SUMMARY_NAME,
    manifest_text,
    split_overlap_warning,
)
from ser_cli.data.splits import (
    RANDOM,
    SPEAKER,
    SPLIT_METHODS,
    random_split,
    speaker_folds,
    speaker_split,
)
from ser_cli.errors import USAGE, AudioError, DatasetError
from ser_cli.labels import EMOTIONS
from ser_cli.outputs import Output, check_outputs
from ser_cli.progress import Progress

# Threads that decode and check audio at once: libsndfile and soxr release the
# GIL, and two keep a 2-core machine busy without starving it.
VALIDATION_WORKERS = 2
DURATION_DECIMALS = 3  # manifest durations in seconds, to the millisecond
_EXAMPLE_REASONS = 3  # rejections quoted when no clip at all is usable


@dataclass(frozen=True)
class PrepareResult:
    """What ``prepare_corpus`` found, kept and wrote."""

    dataset: str  # the corpus layout used, e.g. "ravdess" (detected when asked for "auto")
    corpus_dir: Path  # absolute path of the corpus folder (or CSV file)
    rows: list[dict]  # the manifest rows, sorted by path
    rejected: list[Rejected]  # files left out, with a reason each, sorted by path
    summary: dict  # what summary.json holds
    manifest_path: Path
    summary_path: Path
    warnings: list[str]  # things the user should know (leaky split, emotions missing in a split)
    corpora: list[str] = field(default_factory=list)  # the corpus column's values, in order


def prepare_corpus(
    corpus_dir: str | Path,
    out_dir: str | Path,
    *,
    dataset: str = datasets.AUTO,
    **options,
) -> PrepareResult:
    """One corpus: :func:`prepare_corpora` with a single folder (same options)."""
    return prepare_corpora([corpus_dir], out_dir, layouts=[dataset], **options)


def prepare_corpora(
    corpus_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    layouts: Sequence[str] | None = None,
    split: str = SPEAKER,
    test_speakers: Sequence[str] | None = None,
    val_speakers: Sequence[str] | None = None,
    folds: int = 0,
    seed: int = 0,
    on_progress: Progress | None = None,
) -> PrepareResult:
    """Validate the corpora at ``corpus_dirs`` and write one manifest and summary to ``out_dir``.

    Args:
        layouts: one layout name per corpus (from ``datasets.available_datasets()``, or
            "auto" to detect it), or a single one for all; default: detect each.
        split: "speaker" (speaker-disjoint, default) or "random" (clip-level, leaks speakers).
        test_speakers, val_speakers: fix those splits' speakers (speaker split, one corpus).
        folds: K >= 2 adds a speaker-disjoint "fold" column 0..K-1; 0 adds none.
        seed: seeds the split and folds.
        on_progress: called as (files validated, files to validate, file name).

    With several corpora every row's ``corpus`` column names its corpus (the layout's name,
    "-2", "-3" added when one layout comes twice), speakers are prefixed with it
    (``emodb-03``) so ids never collide, and the split and folds are drawn per corpus, so each
    corpus is speaker-disjoint and present in every split and fold.

    Raises DatasetError (one line saying what to do) for a missing or empty corpus, an unknown
    dataset or split, unknown speakers, too few speakers, or no usable clip.
    """
    _check_options(split, test_speakers, val_speakers, folds)
    roots = [Path(d).expanduser().resolve() for d in corpus_dirs]
    names = _layout_names(roots, layouts)
    if len(roots) > 1 and (test_speakers or val_speakers):
        raise DatasetError(
            "--test-speakers and --val-speakers fix the split of one corpus; with several "
            "corpora prepare without them (each corpus is split on its own).",
            exit_code=USAGE,
        )
    twice = sorted({str(r) for r in roots if roots.count(r) > 1})
    if twice:
        raise DatasetError(
            f"{twice[0]}: corpus given twice; give each corpus once.", exit_code=USAGE
        )
    out_dir = Path(out_dir).expanduser().absolute()
    for root in roots:
        if not root.exists():
            raise DatasetError(f"{root}: corpus folder not found; check the path.")
    if out_dir.exists() and not out_dir.is_dir():
        raise DatasetError(f"{out_dir}: --out is a file; pass a folder for {MANIFEST_NAME}.")
    check_output_dir(out_dir, "--out")
    # never over its own input (a list given as DIR/manifest.csv with --out DIR)
    check_outputs(
        [Output(out_dir / MANIFEST_NAME, "--out"), Output(out_dir / SUMMARY_NAME, "--out")], roots
    )
    remove_stale_temps(out_dir)

    groups: list[tuple[str, str, Path, list[dict]]] = []  # (corpus, layout, root, rows)
    rejected: list[Rejected] = []
    ignored = 0
    for root, name in zip(roots, names, strict=True):
        layout = datasets.detect_dataset(root) if name.strip().lower() == datasets.AUTO else name
        parser = datasets.get_parser(layout)
        parsed = parser.parse(root)
        if not parsed.clips and not parsed.rejected:
            raise DatasetError(datasets.no_audio_message(root))
        corpus = _corpus_name(parser.name, [g[0] for g in groups])
        rows, bad_audio = _validate(parsed.clips, corpus, on_progress)
        these = sorted(parsed.rejected + bad_audio, key=lambda r: str(r.path))
        if not rows:
            raise DatasetError(_nothing_usable(root, parser.name, these))
        rows.sort(key=lambda row: row["path"])
        if len(roots) > 1:
            for row in rows:
                row["speaker"] = f"{corpus}-{row['speaker']}"
        groups.append((corpus, parser.name, root, rows))
        rejected += these
        ignored += parsed.ignored

    warnings: list[str] = []
    for corpus, _, _, rows in groups:
        if split == SPEAKER:
            assignment = speaker_split(
                rows, test_speakers=test_speakers, val_speakers=val_speakers, seed=seed
            )
        else:
            assignment = random_split(rows, seed=seed)
        found = list(assignment.warnings)
        for row, value in zip(rows, assignment.values, strict=True):
            row["split"] = value
        if folds:
            fold_assignment = speaker_folds(rows, folds, seed=seed)
            found += fold_assignment.warnings
            for row, value in zip(rows, fold_assignment.values, strict=True):
                row["fold"] = value
        prefix = f"{corpus}: " if len(groups) > 1 else ""
        warnings += [f"{prefix}{w}" for w in found if f"{prefix}{w}" not in warnings]

    all_rows = [row for group in groups for row in group[3]]
    all_rows.sort(key=lambda row: row["path"])
    rejected.sort(key=lambda r: str(r.path))
    overlap = split_overlap_warning(all_rows)
    warnings += [overlap] if overlap else []
    manifest_path = out_dir / MANIFEST_NAME
    text = manifest_text(all_rows)
    options = {"split": split, "seed": seed, "folds": folds}
    dataset = "+".join(group[0] for group in groups)
    summary = _summary(
        all_rows,
        rejected,
        dataset=dataset,
        root=roots[0],
        manifest_path=manifest_path,
        options=options,
        ignored=ignored,
        warnings=warnings,
    )
    if len(groups) > 1:
        summary["corpus_dir"] = [str(root) for root in roots]
        summary["corpora"] = {
            corpus: {
                "dataset": layout,
                "corpus_dir": str(root),
                **{
                    k: v
                    for k, v in _summary(
                        rows, [], dataset=layout, root=root, manifest_path=manifest_path,
                        options=options, ignored=0, warnings=[],
                    ).items()
                    if k in ("clips", "speakers", "duration_s", "emotions", "splits", "fold_counts")
                },
            }
            for corpus, layout, root, rows in groups
        }  # fmt: skip
    summary["manifest_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    summary_path = out_dir / SUMMARY_NAME
    # Both files complete on disk before either is renamed; the manifest goes last.
    with atomic_path(manifest_path) as manifest_tmp, atomic_path(summary_path) as summary_tmp:
        manifest_tmp.write_text(text, encoding="utf-8")
        summary_tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return PrepareResult(
        dataset=dataset,
        corpus_dir=roots[0],
        rows=all_rows,
        rejected=rejected,
        summary=summary,
        manifest_path=manifest_path,
        summary_path=summary_path,
        warnings=warnings,
        corpora=[group[0] for group in groups],
    )


def _layout_names(roots: Sequence[Path], names: Sequence[str] | None) -> list[str]:
    """One layout name per corpus: as given, one for all, or "auto" for each."""
    if not roots:
        raise DatasetError("no corpus given; pass one or more corpus folders.", exit_code=USAGE)
    names = list(names or [datasets.AUTO])
    if len(names) == 1:
        names = names * len(roots)
    if len(names) != len(roots):
        raise DatasetError(
            f"{len(names)} --dataset values for {len(roots)} corpora; give one per corpus, "
            "in the same order, or one for all.",
            exit_code=USAGE,
        )
    for name in names:
        if name.strip().lower() != datasets.AUTO:
            datasets.get_parser(name)  # an unknown name fails before any file is read
    return names


def _corpus_name(layout: str, taken: Sequence[str]) -> str:
    """The corpus column's value: the layout's name, numbered when the layout repeats."""
    name, n = layout, 1
    while name in taken:
        n += 1
        name = f"{layout}-{n}"
    return name


def _check_options(
    split: str,
    test_speakers: Sequence[str] | None,
    val_speakers: Sequence[str] | None,
    folds: int,
) -> None:
    """Fail on bad options before any file is read."""
    if split not in SPLIT_METHODS:
        raise DatasetError(
            f"unknown --split '{split}'; use one of: {', '.join(SPLIT_METHODS)}.", exit_code=USAGE
        )
    if split == RANDOM and (test_speakers or val_speakers):
        raise DatasetError(
            "--test-speakers and --val-speakers apply to --split speaker only; drop them or "
            "the --split random.",
            exit_code=USAGE,
        )
    if folds < 0 or folds == 1:
        raise DatasetError(
            f"--folds {folds}: ask for 2 or more folds, or 0 for none.", exit_code=USAGE
        )


def _validate(
    clips: Sequence[ParsedClip], corpus: str, on_progress: Progress | None
) -> tuple[list[dict], list[Rejected]]:
    """Manifest rows (without split) for clips whose audio loads, Rejected for the rest."""
    rows: list[dict] = []
    rejected: list[Rejected] = []
    with ThreadPoolExecutor(max_workers=VALIDATION_WORKERS) as pool:
        for done, (clip, checked) in enumerate(
            zip(clips, pool.map(_check_audio, clips), strict=True), 1
        ):
            if isinstance(checked, Rejected):
                rejected.append(checked)
            else:
                rows.append(_row(clip, corpus, *checked))
            if on_progress is not None:
                on_progress(done, len(clips), clip.path.name)
    return rows, rejected


def _check_audio(clip: ParsedClip) -> tuple[float, int, int] | Rejected:
    """(duration in s, stored sample rate in Hz, channels) or why the audio is unusable."""
    from ser_cli.audio.io import SAMPLE_RATE, audio_info, load_audio

    try:
        info = audio_info(clip.path)
        samples = load_audio(clip.path)
    except AudioError as exc:
        # The message starts with the path; the report shows the path in its own column.
        reason = str(exc).removeprefix(f"{clip.path}: ")
        return Rejected(clip.path, reason)
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop the whole corpus
        return Rejected(clip.path, f"could not be read ({type(exc).__name__}: {exc})")
    # MP3 and some OGG headers give no length; the decoded (16 kHz) samples do.
    duration = info.duration or len(samples) / SAMPLE_RATE
    return duration, info.sample_rate, info.channels


def _row(clip: ParsedClip, corpus: str, duration: float, sample_rate: int, channels: int) -> dict:
    return {
        **clip.fields,
        "path": str(clip.path),
        "label": clip.label,
        "speaker": clip.speaker,
        "gender": clip.gender,
        "corpus": corpus,
        "duration": round(duration, DURATION_DECIMALS),
        "sample_rate": sample_rate,
        "channels": channels,
    }


def _nothing_usable(root: Path, dataset: str, rejected: Sequence[Rejected]) -> str:
    examples = "; ".join(f"{r.path.name}: {r.reason}" for r in rejected[:_EXAMPLE_REASONS])
    return (
        f"{root}: no usable clips: all {len(rejected)} audio files were rejected when read as "
        f"'{dataset}' (e.g. {examples}). Check --dataset, or fix the files."
    )


def _summary(
    rows: Sequence[dict],
    rejected: Sequence[Rejected],
    *,
    dataset: str,
    root: Path,
    manifest_path: Path,
    options: dict,
    ignored: int,
    warnings: Sequence[str],
) -> dict:
    """Counts per split, fold and emotion, the rejected files and the options, for summary.json."""
    summary = {
        "version": __version__,
        "dataset": dataset,
        "corpus_dir": str(root),
        "manifest": str(manifest_path),
        **options,
        "clips": len(rows),
        "speakers": sorted({row["speaker"] for row in rows}),
        "duration_s": round(sum(row["duration"] for row in rows), DURATION_DECIMALS),
        "emotions": _label_counts(rows),
        "splits": {
            split: _group_summary([row for row in rows if row["split"] == split])
            for split in SPLITS
        },
    }
    if options["folds"]:
        summary["fold_counts"] = {
            str(fold): _group_summary([row for row in rows if row["fold"] == fold])
            for fold in range(options["folds"])
        }
    summary["rejected"] = [{"path": str(r.path), "reason": r.reason} for r in rejected]
    summary["ignored_non_audio_files"] = ignored
    summary["warnings"] = list(warnings)
    return summary


def _group_summary(rows: Sequence[dict]) -> dict:
    """Clips, speakers (with their genders) and clips per emotion of one split or fold."""
    genders = {row["speaker"]: row["gender"] for row in rows}
    return {
        "clips": len(rows),
        "speakers": sorted(genders),
        "genders": dict(sorted(Counter(g or "unknown" for g in genders.values()).items())),
        "emotions": _label_counts(rows),
    }


def _label_counts(rows: Sequence[dict]) -> dict[str, int]:
    counts = Counter(row["label"] for row in rows)
    return {label: counts[label] for label in EMOTIONS if counts[label]}
