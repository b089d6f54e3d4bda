"""Cross-validation: speaker-disjoint K folds, or leave-one-corpus-out.

``by="fold"`` groups clips by the manifest's ``fold`` column; ``by="corpus"`` by its
``corpus`` column (``ser prepare A B C`` writes one), so each corpus in turn is tested by a
model trained on all the others: the honest measure of voices, languages and rooms never heard.
For group g, clips of g are the test set and every other group trains (no validation
split: the run uses its full schedule, so no test speaker ever influences model selection).
A left-out corpus is scored over its own classes and over the 4-class angry/happy/neutral/sad
view (``four_class_*`` keys).
Test speakers are normalised with their own unlabelled statistics when the model uses
speaker normalisation, exactly as ``ser eval`` and ``ser predict --adapt`` do for a user.
With ``resume``, folds already reported in cv.json are kept, the interrupted fold continues
from its ``last`` checkpoint, and the rest are trained.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_cli.atomic import remove_stale_temps, write_json
from ser_cli.config import RunConfig
from ser_cli.errors import ConfigError, ManifestError
from ser_cli.outputs import Output, check_outputs

CV_REPORT = "cv.json"
SUMMARY_KEYS = ("accuracy", "uar", "macro_f1")
FOUR_CLASS_KEYS = ("accuracy", "uar")  # reported as four_class_<key>
BY_CHOICES = ("fold", "corpus")  # what a group of clips is: a speaker fold, or a whole corpus


@dataclass
class CVResult:
    folds: list[dict]  # per fold: test speakers, metrics (adapted and global), seconds
    summary: dict  # mean and std of each metric across folds
    out_dir: Path
    by: str = "fold"  # what a group is: "fold" or "corpus"


def fold_ids(rows: list[dict]) -> list[str]:
    if not rows or "fold" not in rows[0] or any(r.get("fold", "") == "" for r in rows):
        raise ManifestError(
            "the manifest has no 'fold' column; create folds with `ser prepare ... --folds K`."
        )
    return sorted({r["fold"] for r in rows}, key=lambda f: int(f) if f.isdigit() else f)


def corpus_ids(rows: list[dict]) -> list[str]:
    """The corpora of a multi-corpus manifest, sorted; ManifestError unless there are 2+."""
    names = sorted({r.get("corpus") or "" for r in rows})
    if not rows or "" in names:
        raise ManifestError(
            "the manifest has no 'corpus' column for every row; create one from several "
            "corpora with `ser prepare CORPUS CORPUS ... --out DIR`."
        )
    if len(names) < 2:
        raise ManifestError(
            f"leave-one-corpus-out needs 2 or more corpora; the manifest has only '{names[0]}'. "
            "Prepare several with `ser prepare CORPUS CORPUS ... --out DIR`."
        )
    return names


def run_cv(
    rows: list[dict],
    cfg: RunConfig,
    out_dir: str | Path,
    *,
    folds: list[str] | None = None,
    on_fold: Callable[[str, int, int], Callable | None] | None = None,
    cache_root=None,
    resume: bool = False,
    by: str = "fold",
) -> CVResult:
    """Train and test once per group (fold, or corpus with ``by="corpus"``); returns and
    writes ``out_dir/cv.json``.

    ``on_fold(group, i, n)`` may return a progress callback for that group's training.
    """
    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.models.checkpoint import load_checkpoint
    from ser_cli.training.run_state import TrainingInterrupted, check_same_recipe, saved_config
    from ser_cli.training.trainer import train_run

    out_dir = Path(out_dir)
    all_folds = corpus_ids(rows) if by == "corpus" else fold_ids(rows)
    chosen = folds or all_folds
    check_outputs([Output(out_dir, "--out", folder=True, model=True)], resume=resume)
    remove_stale_temps(out_dir)
    results = []
    if resume:
        saved = saved_config(out_dir)
        if saved is None:
            raise ConfigError(
                f"{out_dir}: nothing to resume (no fold has started); start without --resume."
            )
        check_same_recipe(saved, cfg, out_dir)
        results = _finished_folds(out_dir, rows, chosen, by)
    finished = {r["fold"] for r in results}
    for i, fold in enumerate(chosen):
        if fold in finished:
            continue
        fold_rows = [{**r, "split": "test" if r[by] == fold else "train"} for r in rows]
        progress = on_fold(fold, i, len(chosen)) if on_fold else None
        started = time.time()
        fold_dir = out_dir / f"{by}{fold}" if by == "fold" else out_dir / f"without-{fold}"
        try:
            train_run(
                fold_rows,
                cfg,
                fold_dir,
                resume=resume and (fold_dir / "last.json").exists(),
                on_progress=progress,
                cache_root=cache_root,
            )
        except TrainingInterrupted:
            raise TrainingInterrupted(
                f"cross-validation interrupted in fold {fold} ({i + 1} of {len(chosen)}); "
                f"{len(results)} finished fold(s) kept in {out_dir}. Continue with --resume."
            ) from None
        seconds = time.time() - started
        ckpt = load_checkpoint(fold_dir, "best")
        test_rows = [r for r in fold_rows if r["split"] == "test"]
        # A left-out corpus is scored over its own classes; a fold over the model's.
        own = sorted({r["label"] for r in test_rows}) if by == "corpus" else None
        scores = {
            key: evaluate_rows(
                ckpt, test_rows, adapt=adapt, cache_root=cache_root, corpus_labels=own
            )
            for key, adapt in (("metrics", True), ("metrics_no_adapt", False))
        }
        entry = {
            "fold": fold,
            "test_speakers": sorted({r["speaker"] for r in test_rows}),
            "seconds": round(seconds, 1),
            **{key: _headline(metrics) for key, metrics in scores.items()},
            "confusion": scores["metrics"]["confusion"],
        }
        if by == "corpus":
            entry["labels"] = scores["metrics"]["labels"]
            entry["confusion_no_adapt"] = scores["metrics_no_adapt"]["confusion"]
        results.append(entry)
        results.sort(key=lambda r: chosen.index(r["fold"]))
        write_json(out_dir / CV_REPORT, _report(cfg, results, all_folds, by))
    report = _report(cfg, results, all_folds, by)
    return CVResult(results, report["summary"], out_dir, by)


def _headline(metrics: dict) -> dict:
    """The summary metrics of one evaluation, with the 4-class view's where it has one."""
    out = {k: metrics[k] for k in SUMMARY_KEYS}
    if "four_class" in metrics:
        out.update({f"four_class_{k}": metrics["four_class"][k] for k in FOUR_CLASS_KEYS})
    return out


def _finished_folds(out_dir: Path, rows: list[dict], chosen: list[str], by: str) -> list[dict]:
    """Groups cv.json already reports with the same test speakers (kept on --resume)."""
    import json

    try:
        report = json.loads((out_dir / CV_REPORT).read_text(encoding="utf-8"))
        folds = [f for f in report["folds"] if isinstance(f, dict)]
    except (OSError, ValueError, KeyError, TypeError):
        return []  # no report yet (or a damaged one): every fold is checked again
    kept = []
    for entry in folds:
        fold = str(entry.get("fold"))
        speakers = sorted({r["speaker"] for r in rows if r[by] == fold})
        if fold in chosen and entry.get("test_speakers") == speakers:
            kept.append(entry)
    return kept


def _report(cfg: RunConfig, results: list[dict], all_folds: list[str], by: str) -> dict:
    summary = {}
    for group in ("metrics", "metrics_no_adapt"):
        # Keys every group reports (the 4-class view needs a corpus with those classes).
        keys = [k for k in results[0][group] if all(k in r[group] for r in results)]
        for key in keys:
            values = [r[group][key] for r in results]
            summary[f"{group}.{key}"] = {
                "mean": float(np.mean(values)),
                "std": float(np.std(values)),
            }
    summary["seconds_per_fold"] = {
        "mean": float(np.mean([r["seconds"] for r in results])),
        "max": max(r["seconds"] for r in results),
    }
    return {
        "model": cfg.model,
        "by": by,
        "folds_total": len(all_folds),
        "folds_run": len(results),
        "config": cfg.to_dict(),
        "folds": results,
        "summary": summary,
    }


def ensure_folds(rows: list[dict], k: int, seed: int = 0) -> list[dict]:
    """Rows with a speaker-disjoint ``fold`` column of ``k`` folds: the manifest's own when it
    has exactly ``k``, otherwise assigned here (gender-balanced, as ``ser prepare --folds``)."""
    from ser_cli.data.splits import speaker_folds

    existing = {r.get("fold", "") for r in rows}
    if "" not in existing and len(existing) == k:
        return rows
    assignment = speaker_folds([{**r, "gender": r.get("gender", "")} for r in rows], k, seed=seed)
    return [{**r, "fold": str(v)} for r, v in zip(rows, assignment.values, strict=False)]


def mean_std(summary: dict, key: str) -> str:
    """'61.2% ± 3.4%' for one metric of a CV summary."""
    return f"{summary[key]['mean']:.1%} ± {summary[key]['std']:.1%}"
