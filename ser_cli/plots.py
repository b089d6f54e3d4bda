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
    return _save_png(fig, path)


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
    return _save_png(fig, path)


# One fixed colour per canonical emotion, so every picture reads the same way (tab10-based).
EMOTION_COLORS = {
    "neutral": "#9e9e9e",
    "calm": "#17becf",
    "happy": "#f5c518",
    "sad": "#1f77b4",
    "angry": "#d62728",
    "fearful": "#9467bd",
    "disgust": "#2ca02c",
    "surprised": "#ff7f0e",
}
OTHER_COLORS = ("#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")  # labels outside the canonical set
SILENCE_SHADE = "#e6e6e6"
MIN_LABEL_WIDTH = 0.035  # share of the time axis a run of one top label needs to be named on it


def _color(label: str, labels: tuple[str, ...]) -> str:
    if label in EMOTION_COLORS:
        return EMOTION_COLORS[label]
    return OTHER_COLORS[labels.index(label) % len(OTHER_COLORS)]


def _clock(seconds: float, _pos=None) -> str:
    """Axis ticks as m:ss (h:mm:ss past an hour)."""
    s = int(round(seconds))
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def timeline_intervals(result) -> list[tuple[float, float, str, dict | None]]:
    """Non-overlapping (start, end, label, probabilities) spans of a FilePrediction.

    Utterance and pause rows (``--segment vad``) already tile the recording; fixed windows
    overlap (hop < window), so each is drawn from its own start to the next window's start.
    A file classified whole is one span.
    """
    segments = list(result.segments)
    if not segments:
        return [(0.0, result.duration, result.label or "", result.probabilities)]
    spans = []
    for i, s in enumerate(segments):
        end = segments[i + 1].start if i + 1 < len(segments) else max(s.end, result.duration)
        spans.append((s.start, end, s.label, s.probabilities))
    return spans


def save_timeline_png(result, path: str | Path, labels: tuple[str, ...]) -> Path:
    """One recording's emotions over time: stacked probabilities per span, silence shaded,
    and above them a strip naming the top emotion of each run of spans that share it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    from ser_cli.labels import SILENCE

    spans = timeline_intervals(result)
    total = max(spans[-1][1], 1e-6)
    edges = np.array([s[0] for s in spans] + [spans[-1][1]])
    probs = np.array(
        [[(p or {}).get(label, 0.0) for label in labels] for _, _, _, p in spans]
    )  # (spans, labels); silence rows are 0
    fig, (strip, ax) = plt.subplots(
        2,
        1,
        figsize=(12, 4.2),
        dpi=120,
        sharex=True,
        gridspec_kw={"height_ratios": [1, 5], "hspace": 0.05},
    )
    # Stacked probabilities as steps: each span holds its window's values from start to end
    x = np.repeat(edges, 2)[1:-1]
    bottom = np.zeros(len(x))
    for j, label in enumerate(labels):
        y = np.repeat(probs[:, j], 2)
        ax.fill_between(x, bottom, bottom + y, color=_color(label, labels), linewidth=0)
        bottom = bottom + y
    # The top-label strip: consecutive spans with the same top label merge into one run
    runs: list[list] = []
    for start, end, label, _ in spans:
        if runs and runs[-1][2] == label:
            runs[-1][1] = end
        else:
            runs.append([start, end, label])
    for start, end, label in runs:
        silent = label == SILENCE
        color = SILENCE_SHADE if silent else _color(label, labels)
        strip.axvspan(start, end, color=color, linewidth=0)
        if silent:
            ax.axvspan(start, end, color=SILENCE_SHADE, linewidth=0, hatch="//", alpha=0.8)
        if (end - start) / total >= MIN_LABEL_WIDTH:
            strip.text(
                (start + end) / 2, 0.5, label, ha="center", va="center", fontsize=9,
                color="#555555" if silent else "black", clip_on=True,
            )  # fmt: skip
    strip.set_yticks([])
    strip.set_ylim(0, 1)
    strip.set_ylabel("top", rotation=0, ha="right", va="center")
    strip.set_title(f"{Path(result.path).name}: {result.label or 'no speech'}", loc="left")
    ax.set_xlim(0, total)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    if total >= 60:  # whole seconds as m:ss; shorter recordings in seconds
        ax.set_xlabel("time (m:ss)")
        ax.xaxis.set_major_formatter(FuncFormatter(_clock))
    else:
        ax.set_xlabel("time (s)")
    handles = [Patch(color=_color(label, labels), label=label) for label in labels]
    handles.append(Patch(facecolor=SILENCE_SHADE, hatch="//", label=SILENCE))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)
    fig.subplots_adjust(left=0.07, right=0.86, top=0.9, bottom=0.13)
    return _save_png(fig, path)


def timeline_targets(results: list, target: str | Path) -> list[tuple[object, Path]]:
    """Where each file's timeline goes: ``target`` itself for one file given as a .png;
    otherwise one PNG per file, named after it, in the folder ``target`` (or beside a
    ``target`` .png, suffixed with the file's name). Failed files get none."""
    target = Path(target)
    ok = [r for r in results if not r.error]
    if len(results) == 1 and target.suffix.lower() == ".png":
        return [(r, target) for r in ok]
    stems: dict[str, int] = {}
    out = []
    for r in ok:
        stem = Path(r.path).stem
        stems[stem] = stems.get(stem, 0) + 1
        name = stem if stems[stem] == 1 else f"{stem}-{stems[stem]}"  # same name, other folder
        if target.suffix.lower() == ".png":
            out.append((r, target.with_name(f"{target.stem}-{name}.png")))
        else:
            out.append((r, target / f"{name}.png"))
    return out


def save_timelines(results: list, target: str | Path, labels: tuple[str, ...]) -> list[Path]:
    """A timeline PNG per successfully predicted file (see :func:`timeline_targets`)."""
    return [save_timeline_png(r, p, labels) for r, p in timeline_targets(results, target)]


CURVE_NAME = "training_curve.png"  # written beside history.jsonl by every `ser train` run


def save_training_curve(history: list[dict], path: str | Path) -> Path | None:
    """Loss, validation UAR and accuracy per epoch, as a PNG. None when there is no history."""
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=120)
    losses = [(h["epoch"], h["train_loss"]) for h in history if "train_loss" in h]
    if losses:
        left.plot(*zip(*losses, strict=True), marker="o", markersize=3, color="#d62728")
    left.set_title("training loss")
    left.set_xlabel("epoch")
    left.grid(alpha=0.3)
    # UAR solid and on top, accuracy dashed: on a balanced split the two coincide
    for key, name, color, style, z in (
        ("val_uar", "UAR", "#1f77b4", "-", 3),
        ("val_accuracy", "accuracy", "#2ca02c", "--", 2),
    ):
        points = [(h["epoch"], h[key]) for h in history if key in h]
        if points:
            right.plot(
                *zip(*points, strict=True), style, marker="o", markersize=3, label=name,
                color=color, zorder=z,
            )  # fmt: skip
    uar = [(h["val_uar"], h["epoch"]) for h in history if "val_uar" in h]
    if uar:
        best, at = max(uar)
        right.axvline(at, color="#1f77b4", linestyle=":", linewidth=1)
        right.set_title(f"validation (best UAR {best:.1%} at epoch {at})")
        right.legend(loc="lower right")
    else:
        right.set_title("validation (no val split)")
    right.set_xlabel("epoch")
    right.set_ylim(0, 1)
    right.grid(alpha=0.3)
    for ax in (left, right):
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return _save_png(fig, path)


def _save_png(fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` atomically (temp file, then rename) and free it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
