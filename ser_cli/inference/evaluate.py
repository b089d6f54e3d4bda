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


EVAL_BATCH = 8  # clips per predict_batch call when scoring a predictor on raw audio


def evaluate_predictor(
    predictor, rows: list[dict], *, batch_size: int = EVAL_BATCH, on_progress=None
) -> dict:
    """Metrics of any predictor (e.g. a hub classifier) on manifest rows, from their audio:
    each row's file through ``predictor.features`` and, in batches of similar length,
    ``predictor.predict_batch``. No feature cache and no speaker statistics.

    Emotions in the data that the model cannot output are scored as errors (they count in
    UAR) and listed under ``missing_labels``; the model's extra labels stay in the matrix.
    """
    from ser_cli.audio.io import load_audio

    labels = tuple(predictor.labels)
    missing = sorted({r["label"] for r in rows} - set(labels))
    all_labels = labels + tuple(missing)
    index = {label: i for i, label in enumerate(all_labels)}
    feats = []
    for done, row in enumerate(rows, start=1):
        feats.append(predictor.features(load_audio(row["path"])))
        if on_progress:
            on_progress(done, len(rows), "audio")
    order = np.argsort([len(f) for f in feats])  # similar lengths pad less
    y_pred = np.zeros(len(rows), dtype=np.int64)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        probs = predictor.predict_batch([feats[i] for i in chunk])
        y_pred[chunk] = probs.argmax(1)
    y_true = np.array([index[r["label"]] for r in rows], dtype=np.int64)
    metrics = compute_metrics(y_true, y_pred, all_labels)
    metrics["adapted"] = False
    metrics["missing_labels"] = missing
    return metrics


def _evaluate_hub(name: str, rows: list[dict], out_dir, n_models: int, split: str):
    """evaluate_models' branch for a transformers classifier: (report, target folder)."""
    from pathlib import Path

    from ser_cli.inference.hub_predictor import HubPredictor

    predictor = HubPredictor(name)
    report = evaluate_predictor(predictor, rows)
    report["warnings"] = list(predictor.warnings)
    # Never write into someone's model folder (or a hub id): the cwd, as for the bundled model.
    target = Path(out_dir) if out_dir else Path.cwd() / "ser-eval"
    if n_models > 1 or not out_dir:
        target = target / Path(name).name
    return report, target


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

    Writes ``report.json`` and ``confusion.png`` per model into ``out_dir`` (default: the
    model's run folder; a subfolder per model when several are compared).
    Returns (reports by model name, paths written).
    """
    from pathlib import Path

    from ser_cli.atomic import write_json
    from ser_cli.data.manifest import select_split
    from ser_cli.inference.hub_predictor import is_hub_classifier
    from ser_cli.inference.predictor import resolve_model_dir
    from ser_cli.models.checkpoint import load_checkpoint
    from ser_cli.plots import save_confusion_png

    chosen = rows if split == "all" else select_split(rows, split, source)
    reports, written = {}, []
    for name in models:
        if is_hub_classifier(name):
            report, target = _evaluate_hub(str(name), chosen, out_dir, len(models), split)
        else:
            run_dir = resolve_model_dir(name)
            ckpt = load_checkpoint(run_dir)
            report = evaluate_rows(ckpt, chosen, adapt=adapt)
            target = (
                Path(out_dir)
                if out_dir
                else (run_dir if not _is_bundled(run_dir) else Path.cwd() / "ser-eval")
            )
            if out_dir and len(models) > 1:
                target = target / Path(str(name)).name
        report.update({"model": str(name), "split": split})
        key = str(name) if str(name) not in reports else f"{name} ({len(reports)})"
        reports[key] = report
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
