"""`ser eval`: score checkpoints on manifest rows through the same inference path as predict.

Features come from the on-disk cache; probabilities from :func:`ser_cli.inference.batch.probabilities`
(centre crop, normalisation, masked batches), so per-file labels equal `ser predict`'s on the
same files and statistics.
"""

from __future__ import annotations

import numpy as np

from ser_cli.inference.metrics import compute_metrics
from ser_cli.progress import Progress


def score_probabilities(
    probs: np.ndarray, targets: np.ndarray, model_labels: tuple[str, ...], corpus_labels
) -> dict:
    """Metrics of model probabilities on a corpus whose label set may differ from the model's.

    Args:
        probs: (clips, model classes); targets: (clips,) indices into ``model_labels``;
        corpus_labels: every label of the corpus (not only of the scored split).
    The main metrics are over the classes both share (see label_mapping: calm counted as
    neutral where the corpus has no calm); ``four_class`` is the angry/happy/neutral/sad view on
    the clips of those four; ``calibration`` holds the ECE and reliability bins.
    """
    from ser_cli.inference.calibration import calibration_report
    from ser_cli.inference.label_mapping import FOUR_CLASSES, four_class_mapping, map_labels

    mapping = map_labels(model_labels, corpus_labels)
    true = [model_labels[int(i)] for i in targets]
    scored = mapping.targets(true)
    mapped = mapping.apply(probs)
    metrics = compute_metrics(scored, mapped.argmax(1), mapping.labels)
    metrics["label_mapping"] = mapping.to_dict()
    metrics["calibration"] = calibration_report(mapped, scored)
    four = four_class_mapping(model_labels)
    keep = [i for i, label in enumerate(true) if label in FOUR_CLASSES] if four else []
    if keep:
        four_probs = four.apply(np.asarray(probs)[keep])
        view = compute_metrics(
            four.targets(true[i] for i in keep), four_probs.argmax(1), four.labels
        )
        metrics["four_class"] = {
            k: view[k] for k in ("accuracy", "uar", "macro_f1", "n", "labels", "confusion")
        }
    return metrics


def evaluate_rows(
    checkpoint,
    rows: list[dict],
    *,
    adapt: bool = True,
    cache_root=None,
    on_progress: Progress | None = None,
    per_file: bool = False,
    corpus_labels=None,
) -> dict:
    """Metrics of a loaded checkpoint on manifest rows.

    With ``adapt`` and a speaker-normalised model, each speaker's clips are normalised by that
    speaker's own statistics (no labels used); otherwise by the training data's. With
    ``per_file``, the report's ``predictions`` lists each row's path, true and predicted label
    and probabilities, in row order.
    ``corpus_labels`` is the corpus's label set, for scoring another corpus (see
    :func:`score_probabilities`); by default the model's own plus those of ``rows``, so a split
    that happens to lack a class is scored as is. Clips of labels the model lacks are left out
    and listed either way.
    """
    from ser_cli.features.clips import clip_stats, load_clips
    from ser_cli.inference.batch import probabilities
    from ser_cli.inference.label_mapping import scorable_rows

    rows, corpus_labels = scorable_rows(rows, checkpoint.labels, corpus_labels)
    clips = load_clips(
        rows,
        checkpoint.feature_config,
        checkpoint.labels,
        cache_root=cache_root,
        on_progress=on_progress,
    )
    stats = clip_stats(clips, checkpoint.normalization, checkpoint.global_stats, adapt=adapt)
    tc = checkpoint.meta["train_config"]
    probs = probabilities(
        checkpoint.model,
        clips.features,
        stats,
        max_frames=tc["max_eval_frames"],
        batch_size=tc["batch_size"],
        temperature=checkpoint.temperature,
    )
    metrics = score_probabilities(probs, clips.labels, checkpoint.labels, corpus_labels)
    metrics["calibration"]["temperature"] = checkpoint.temperature
    metrics["adapted"] = bool(adapt and checkpoint.normalization == "speaker")
    if per_file:
        metrics["predictions"] = _per_file(clips.paths, clips.labels, probs, checkpoint.labels)
    return metrics


EVAL_BATCH = 8  # clips per predict_batch call when scoring a predictor on raw audio


def evaluate_predictor(
    predictor,
    rows: list[dict],
    *,
    batch_size: int = EVAL_BATCH,
    corpus_labels=None,
    on_progress=None,
    per_file: bool = False,
) -> dict:
    """Metrics of any predictor (e.g. a hub classifier) on manifest rows, from their audio:
    each row's file through ``predictor.features`` and, in batches of similar length,
    ``predictor.predict_batch``. No feature cache and no speaker statistics. Scored as
    :func:`evaluate_rows` scores a checkpoint (:func:`score_probabilities`): clips of emotions
    the model cannot output are left out and listed, calm counts as neutral where the corpus
    has no calm. ``per_file`` adds each row's prediction, as :func:`evaluate_rows` does.
    """
    from ser_cli.audio.io import load_audio
    from ser_cli.inference.label_mapping import scorable_rows

    labels = tuple(predictor.labels)
    rows, corpus_labels = scorable_rows(rows, labels, corpus_labels)
    feats = []
    for done, row in enumerate(rows, start=1):
        feats.append(predictor.features(load_audio(row["path"])))
        if on_progress:
            on_progress(done, len(rows), "audio")
    order = np.argsort([len(f) for f in feats])  # similar lengths pad less
    probs = np.zeros((len(rows), len(labels)), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        probs[chunk] = predictor.predict_batch([feats[i] for i in chunk])
    targets = np.array([labels.index(r["label"]) for r in rows], dtype=np.int64)
    metrics = score_probabilities(probs, targets, labels, corpus_labels)
    # the temperature the predictor divides its logits by (an ONNX file's own; 1: none)
    metrics["calibration"]["temperature"] = float(predictor.temperature)
    metrics["adapted"] = False
    if per_file:
        metrics["predictions"] = _per_file([r["path"] for r in rows], targets, probs, labels)
    return metrics


def _per_file(paths, targets, probs, names) -> list[dict]:
    """Each clip's path, true and predicted label and probabilities, in row order."""
    return [
        {
            "path": str(path),
            "label": names[int(true)],
            "predicted": names[int(np.argmax(p))],
            "probabilities": {n: float(v) for n, v in zip(names, p, strict=True)},
        }
        for path, true, p in zip(paths, targets, probs, strict=True)
    ]


def _load(name):
    """(run folder or None, the loaded and checked model): a run's checkpoint, or the
    predictor of a model scored from audio (kind ``onnx`` or ``hub``: no run folder, no
    feature cache), by :mod:`ser_cli.inference.load`'s kinds."""
    from ser_cli.inference.load import load_predictor, model_kind, resolve_model_dir
    from ser_cli.models.checkpoint import load_checkpoint

    if model_kind(name) != "run":
        return None, load_predictor(str(name))
    run_dir = resolve_model_dir(name)
    return run_dir, load_checkpoint(run_dir)


def report_folders(models: list[str]) -> list[str]:
    """A distinct report folder name per model: its folder's name, with its parent's
    (``a/enh`` and ``b/enh`` -> ``a-enh``, ``b-enh``) or a number where names still clash."""
    from pathlib import Path

    names = [Path(str(m)).name or str(m) for m in models]
    clash = {n for n in names if names.count(n) > 1}
    names = [
        f"{Path(str(m)).resolve().parent.name}-{n}" if n in clash else n
        for m, n in zip(models, names, strict=True)
    ]
    seen: dict[str, int] = {}
    unique = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return unique


def evaluate_models(
    models: list[str],
    rows: list[dict],
    *,
    split: str = "test",
    adapt: bool = True,
    out_dir=None,
    source="manifest",
    per_file: bool = False,
) -> tuple[dict[str, dict], list]:
    """Evaluate each model (run folder or 'default') on one split of the manifest rows.

    Writes ``report.json``, ``confusion.png`` and ``reliability.png`` per model into
    ``out_dir`` (checked up front; a subfolder per model when several are compared), or,
    without ``out_dir``, into the model's run folder when it is writable; never into the
    bundled model, a hub classifier's folder or the working folder. With ``per_file``, each
    report lists every file's prediction (see :func:`evaluate_rows`).
    Returns (reports by model name, paths written).
    """
    import os
    from pathlib import Path

    from ser_cli.atomic import check_output_dir, write_json
    from ser_cli.data.manifest import select_split
    from ser_cli.plots import save_confusion_png, save_reliability_png

    chosen = select_split(rows, split, source)
    if out_dir:
        check_output_dir(out_dir, "--out")
    corpus_labels = sorted({r["label"] for r in rows})  # the whole manifest's, not one split's
    # every --model loaded and checked (metadata against weights) before any audio is read
    loaded = [_load(name) for name in models]
    folders = report_folders(models)
    reports, written = {}, []
    for name, folder, (run_dir, model) in zip(models, folders, loaded, strict=True):
        if run_dir is None:
            report = evaluate_predictor(
                model, chosen, corpus_labels=corpus_labels, per_file=per_file
            )
            report["warnings"] = list(model.warnings)
            target = Path(out_dir) if out_dir else None

            def score(part, own, predictor=model):
                return evaluate_predictor(predictor, part, corpus_labels=own)

        else:
            report = evaluate_rows(
                model, chosen, adapt=adapt, per_file=per_file, corpus_labels=corpus_labels
            )

            def score(part, own, ckpt=model):
                return evaluate_rows(ckpt, part, adapt=adapt, corpus_labels=own)

            writable = run_dir.is_dir() and os.access(run_dir, os.W_OK)
            target = (
                Path(out_dir)
                if out_dir
                else run_dir
                if writable and not _is_bundled(run_dir)
                else None
            )
        corpora = per_corpus(chosen, score)  # {} unless the rows come from several corpora
        if corpora:
            report["corpora"] = corpora
        report.update({"model": str(name), "split": split})
        key = str(name) if str(name) not in reports else f"{name} ({len(reports)})"
        reports[key] = report
        if target is None:
            continue  # the bundled model, a hub classifier or a read-only run: on screen only
        if out_dir and len(models) > 1:
            target = target / folder
        written.append(write_json(target / f"report-{split}.json", report))
        written.append(
            save_confusion_png(
                report, target / f"confusion-{split}.png", title=f"{Path(str(name)).name}: {split}"
            )
        )
        written.append(
            save_reliability_png(
                report,
                target / f"reliability-{split}.png",
                title=f"{Path(str(name)).name}: {split}",
            )
        )
    return reports, written


def _is_bundled(path) -> bool:
    from ser_cli.paths import bundled_model_dir

    return path.resolve() == bundled_model_dir().resolve()


def per_corpus(rows: list[dict], score) -> dict[str, dict]:
    """Each corpus of a multi-corpus manifest scored on its own, over its own classes.

    ``score(rows, corpus_labels)`` returns a report; per corpus this keeps its headline
    metrics and the 4-class view's. {} when the rows come from one corpus (or say none).
    """
    names = sorted({r.get("corpus") or "" for r in rows})
    if len(names) < 2 or "" in names:
        return {}
    out = {}
    for name in names:
        part = [r for r in rows if r["corpus"] == name]
        report = score(part, sorted({r["label"] for r in part}))
        entry = {k: report[k] for k in ("accuracy", "uar", "macro_f1", "n")}
        if "four_class" in report:
            entry["four_class_accuracy"] = report["four_class"]["accuracy"]
        out[name] = entry
    return out
