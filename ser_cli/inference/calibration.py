"""How far to trust a label: temperature scaling, calibration error and the uncertain label.

A network's softmax is usually over-confident. Temperature scaling (Guo et al. 2017, "On
Calibration of Modern Neural Networks") divides the logits by one scalar T > 0 fitted to
minimise the negative log-likelihood on held-out validation clips: it changes no prediction
(the argmax is the same) but makes "80 % sure" mean right about 80 % of the time. The trainer
fits T on the validation split after training and stores it in the best checkpoint's sidecar
as ``calibration: {"temperature": T}``; a checkpoint without it uses T = 1.

Expected calibration error (ECE) measures the gap: clips are binned by their top probability
and each bin's mean confidence is compared with its accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ser_cli.labels import UNCERTAIN

ECE_BINS = 15  # equal-width confidence bins, the usual choice since Guo et al. (2017)
LOG_T_BOUNDS = (-3.0, 3.0)  # search T in [e^-3, e^3] ~ [0.05, 20]
PROB_FLOOR = 1e-12  # log of a probability that underflowed to 0 stays finite


def reliability_bins(probs: np.ndarray, targets: np.ndarray, n_bins: int = ECE_BINS) -> list[dict]:
    """Per confidence bin: its range, clip count, mean top probability and accuracy.

    Args:
        probs: (clips, classes) probabilities; targets: (clips,) true class indices.
    """
    probs = np.asarray(probs, dtype=np.float64)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(targets)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bins are (lo, hi]; a confidence of exactly 0 cannot happen (the top of >= 1 class).
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        members = which == b
        count = int(members.sum())
        bins.append(
            {
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "count": count,
                "confidence": float(confidence[members].mean()) if count else None,
                "accuracy": float(correct[members].mean()) if count else None,
            }
        )
    return bins


def expected_calibration_error(
    probs: np.ndarray, targets: np.ndarray, n_bins: int = ECE_BINS
) -> float:
    """ECE: sum over bins of (share of clips) x |accuracy - mean confidence|, in [0, 1]."""
    bins = reliability_bins(probs, targets, n_bins)
    total = sum(b["count"] for b in bins)
    if total == 0:
        return 0.0
    return float(
        sum(b["count"] / total * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"])
    )


def calibration_report(probs: np.ndarray, targets: np.ndarray, temperature: float = 1.0) -> dict:
    """ECE and the reliability bins of already-scaled probabilities, for report.json."""
    return {
        "ece": expected_calibration_error(probs, targets),
        "temperature": float(temperature),
        "bins": reliability_bins(probs, targets),
    }


def scaled_probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) per clip: (clips, classes) -> (clips, classes), rows summing to 1."""
    from scipy.special import softmax

    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def _nll(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    from scipy.special import logsumexp

    z = logits / temperature
    return float(np.mean(logsumexp(z, axis=1) - z[np.arange(len(targets)), targets]))


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The T > 0 minimising the mean NLL of softmax(logits / T) against ``targets``.

    Args:
        logits: (clips, classes) logits, or log-probabilities (the same up to a per-row
            constant, which softmax ignores); targets: (clips,) true class indices.
    """
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) == 0:
        return 1.0
    result = minimize_scalar(
        lambda log_t: _nll(logits, targets, float(np.exp(log_t))),
        bounds=LOG_T_BOUNDS,
        method="bounded",
    )
    return float(np.exp(result.x))


def confident_label(
    labels: Sequence[str], probs: np.ndarray | Sequence[float], min_confidence: float = 0.0
) -> str:
    """The top label, or UNCERTAIN when its probability is below ``min_confidence``."""
    probs = np.asarray(probs)
    top = int(probs.argmax())
    return labels[top] if probs[top] >= min_confidence else UNCERTAIN


def check_min_confidence(value: float) -> float:
    """``--min-confidence`` must be a probability."""
    from ser_cli.errors import SerError

    if not 0.0 <= value <= 1.0:
        raise SerError(f"--min-confidence must be between 0 and 1 (got {value:g}).")
    return value


def calibrate_run(run_dir, clips, stats, device: str, batch_size: int, max_frames: int) -> float:
    """Fit T on the validation ``clips`` with the run's ``best`` checkpoint and store it in
    that checkpoint's sidecar; returns T."""
    from pathlib import Path

    from ser_cli.atomic import write_json
    from ser_cli.inference.batch import probabilities
    from ser_cli.models.checkpoint import load_checkpoint, read_sidecar

    best = load_checkpoint(run_dir, "best", device=device)
    probs = probabilities(
        best.model, clips.features, stats, max_frames=max_frames, batch_size=batch_size
    )
    log_probs = np.log(np.maximum(probs, PROB_FLOOR))
    temperature = fit_temperature(log_probs, clips.labels)
    meta = read_sidecar(run_dir, "best")
    meta["calibration"] = {
        "temperature": temperature,
        "fitted_on": "val",
        "clips": len(clips),
        "val_ece_before": expected_calibration_error(probs, clips.labels),
        "val_ece_after": expected_calibration_error(
            scaled_probabilities(log_probs, temperature), clips.labels
        ),
    }
    write_json(Path(run_dir) / "best.json", meta)
    return temperature
