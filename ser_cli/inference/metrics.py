"""Metrics for emotion classification: accuracy, UAR, macro-F1, per-class report, confusion.

A leaf module (scikit-learn only): the trainer, evaluation and cross-validation all use it.
"""

from __future__ import annotations

import warnings

import numpy as np


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> dict:
    """Weighted accuracy, unweighted average recall (UAR), macro-F1 over the classes present
    in ``y_true``, per-class precision/recall/F1/support, and the confusion matrix
    (rows: true label, columns: predicted, in ``labels`` order).

    Args:
        y_true, y_pred: (clips,) class indices into ``labels``.
    """
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        precision_recall_fscore_support,
    )

    every = list(range(len(labels)))
    present = sorted({int(v) for v in y_true})
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=every, zero_division=0
    )
    with warnings.catch_warnings():
        # A class predicted but absent from y_true is a wrong answer, not a problem to warn of.
        warnings.simplefilter("ignore", UserWarning)
        uar = balanced_accuracy_score(y_true, y_pred)  # mean recall over the present classes
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "uar": float(uar),
        "macro_f1": float(np.mean([f1[i] for i in present])),
        "n": int(len(y_true)),
        "per_class": {
            labels[i]: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i in every
        },
        "labels": list(labels),
        "confusion": confusion_matrix(y_true, y_pred, labels=every).tolist(),
    }
