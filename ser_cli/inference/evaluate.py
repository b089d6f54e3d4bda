"""Metrics for emotion classification: accuracy, UAR, macro-F1, per-class report, confusion."""

from __future__ import annotations

import numpy as np


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> dict:
    """Weighted accuracy, unweighted average recall (UAR), macro-F1 over the classes present
    in ``y_true``, per-class precision/recall/F1/support, and the confusion matrix
    (rows: true label, columns: predicted, in ``labels`` order)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    present = sorted(set(int(v) for v in y_true))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(len(labels))), zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "uar": float(np.mean([recall[i] for i in present])),
        "macro_f1": float(np.mean([f1[i] for i in present])),
        "n": int(len(y_true)),
        "per_class": {
            labels[i]: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i in range(len(labels))
        },
        "labels": list(labels),
        "confusion": confusion_matrix(y_true, y_pred, labels=list(range(len(labels)))).tolist(),
    }


def evaluate_rows(
    checkpoint, rows: list[dict], *, adapt: bool = True, cache_root=None, on_progress=None
) -> dict:
    """Metrics of a loaded checkpoint on manifest rows.

    With ``adapt`` and a speaker-normalised model, each speaker's clips are normalised by that
    speaker's own statistics (no labels used); otherwise by the training data's.
    """
    from ser_cli.features.clips import clip_stats, load_clips
    from ser_cli.training.trainer import predict_probabilities

    clips = load_clips(
        rows,
        checkpoint.feature_config,
        checkpoint.labels,
        cache_root=cache_root,
        on_progress=on_progress,
    )
    stats = clip_stats(clips, checkpoint.normalization, checkpoint.global_stats, adapt=adapt)
    tc = checkpoint.meta["train_config"]
    device = next(checkpoint.model.parameters()).device.type
    probs = predict_probabilities(
        checkpoint.model, clips, stats, device, tc["batch_size"], tc["max_eval_frames"]
    )
    metrics = compute_metrics(clips.labels, probs.argmax(1), checkpoint.labels)
    metrics["adapted"] = bool(adapt and checkpoint.normalization == "speaker")
    return metrics


def evaluate_models(
    models: list[str],
    rows: list[dict],
    *,
    split: str = "test",
    adapt: bool = True,
    out_dir=None,
    source="manifest",
) -> tuple[dict[str, dict], list]:
    """Evaluate each model (run folder or 'default') on one split of the manifest rows.

    Writes ``report.json`` and ``confusion.png`` per model into ``out_dir`` (checked up front;
    a subfolder per model when several are compared), or, without ``out_dir``, into the
    model's run folder when it is writable; never into the bundled model or the working folder.
    Returns (reports by model name, paths written).
    """
    import os
    from pathlib import Path

    from ser_cli.atomic import check_output_dir, write_json
    from ser_cli.data.manifest import select_split
    from ser_cli.inference.predictor import resolve_model_dir
    from ser_cli.models.checkpoint import load_checkpoint
    from ser_cli.plots import save_confusion_png

    chosen = select_split(rows, split, source)
    if out_dir:
        check_output_dir(out_dir, "--out")
    run_dirs = [resolve_model_dir(name) for name in models]  # every --model checked first
    reports, written = {}, []
    for name, run_dir in zip(models, run_dirs, strict=True):
        ckpt = load_checkpoint(run_dir)
        report = evaluate_rows(ckpt, chosen, adapt=adapt)
        report.update({"model": str(name), "split": split})
        key = str(name) if str(name) not in reports else f"{name} ({len(reports)})"
        reports[key] = report
        if out_dir:
            target = Path(out_dir)
        elif not _is_bundled(run_dir) and run_dir.is_dir() and os.access(run_dir, os.W_OK):
            target = run_dir
        else:
            continue  # the bundled model (or a read-only run): report on screen only
        if out_dir and len(models) > 1:
            target = target / Path(str(name)).name
        written.append(write_json(target / f"report-{split}.json", report))
        written.append(
            save_confusion_png(
                report, target / f"confusion-{split}.png", title=f"{Path(str(name)).name}: {split}"
            )
        )
    return reports, written


def _is_bundled(path) -> bool:
    from ser_cli.paths import bundled_model_dir

    return path.resolve() == bundled_model_dir().resolve()
