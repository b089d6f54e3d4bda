"""Figures written to disk (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

from ser_cli.atomic import atomic_path


def save_confusion_png(report: dict, path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix with counts, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = report["labels"]
    counts = np.asarray(report["confusion"], dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(labels), 1.0 + 0.6 * len(labels)), dpi=120)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                int(counts[i, j]),
                ha="center",
                va="center",
                color="white" if rates[i, j] > 0.5 else "black",
                fontsize=8,
            )
    ax.set_title(title or f"accuracy {report['accuracy']:.1%}, UAR {report['uar']:.1%}")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def save_reliability_png(report: dict, path: str | Path, title: str = "") -> Path:
    """Reliability diagram from ``report["calibration"]``: accuracy against mean confidence per
    confidence bin (bars), the diagonal of perfect calibration, and the ECE in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calibration = report["calibration"]
    bins = [b for b in calibration["bins"] if b["count"]]
    width = calibration["bins"][0]["upper"] - calibration["bins"][0]["lower"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect")
    ax.bar(
        [b["lower"] for b in bins],
        [b["accuracy"] for b in bins],
        width=width,
        align="edge",
        color="tab:blue",
        edgecolor="white",
        label="accuracy",
    )
    ax.plot(
        [b["confidence"] for b in bins],
        [b["accuracy"] for b in bins],
        "o",
        color="tab:orange",
        markersize=4,
        label="bin (mean confidence, accuracy)",
    )
    for b in bins:
        ax.text(b["lower"] + width / 2, 0.01, str(b["count"]), ha="center", fontsize=6)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", fontsize=7)
    head = f"{title}\n" if title else ""
    ax.set_title(
        f"{head}ECE {calibration['ece']:.3f}, T = {calibration.get('temperature', 1.0):.2f}",
        fontsize=9,
    )
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
