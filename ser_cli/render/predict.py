"""How `ser predict` shows results: probability bars, timelines, JSON, CSV, and for one
recording an Audacity label track or emotion subtitles (SRT, WebVTT)."""

from __future__ import annotations

import csv
import io
import json

from rich.console import Group
from rich.table import Table
from rich.text import Text

BAR_WIDTH = 30  # characters of a full (100 %) bar


def probability_bars(probabilities: dict[str, float], top_k: int | None = None) -> Table:
    """One row per emotion, highest first: name, bar, percentage."""
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", style="bold")
    table.add_column()
    table.add_column(justify="right")
    ranked = sorted(probabilities.items(), key=lambda kv: -kv[1])[: top_k or None]
    for i, (label, p) in enumerate(ranked):
        filled = int(round(p * BAR_WIDTH))
        bar = Text("█" * filled, style="green" if i == 0 else "cyan") + Text(
            "·" * (BAR_WIDTH - filled), style="dim"
        )
        table.add_row(label, bar, f"{p:6.1%}")
    return table


def prediction_view(results: list, top_k: int | None = None) -> Group:
    parts = []
    for r in results:
        if r.error:
            reason = r.error.removeprefix(f"{r.path}: ")  # library errors start with the path
            parts.append(Text.assemble(("✗ ", "red"), (r.path, "bold"), f": {reason}"))
            continue
        head = Text.assemble(
            ("● ", "green"), (r.path, "bold"), "  →  ", (str(r.label), "bold green")
        )
        parts.append(head)
        if r.probabilities:
            parts.append(probability_bars(r.probabilities, top_k))
        if r.segments:
            timeline = Table(title="timeline", title_justify="left", show_edge=False)
            for col in ("start", "end", "emotion", "confidence"):
                timeline.add_column(col, justify="right" if col != "emotion" else "left")
            for s in r.segments:
                conf = f"{max(s.probabilities.values()):.0%}" if s.probabilities else ""
                timeline.add_row(
                    f"{s.start:.1f}s",
                    f"{s.end:.1f}s",
                    s.label if s.probabilities else f"[dim]{s.label}[/]",
                    conf,
                )
            parts.append(timeline)
        parts.append(Text(""))
    return Group(*parts)


def predictions_json(results: list, top_k: int | None = None) -> str:
    return json.dumps([_trim(r.to_dict(), top_k) for r in results], indent=2)


def predictions_csv(results: list, labels: tuple[str, ...]) -> str:
    """One row per file (and per segment of long files): path, start, end, label, probabilities."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "start", "end", "label", *labels, "error"])
    for r in results:
        payload = r.to_dict()  # probabilities rounded as in the JSON
        probs = payload.get("probabilities") or {}
        writer.writerow(
            [r.path, "", "", r.label or "", *(probs.get(lb, "") for lb in labels), r.error or ""]
        )
        for s in payload.get("segments", []):
            sp = s["probabilities"] or {}
            writer.writerow(
                [
                    r.path,
                    f"{s['start']:.3f}",
                    f"{s['end']:.3f}",
                    s["label"],
                    *(sp.get(lb, "") for lb in labels),
                    "",
                ]
            )
    return buf.getvalue()


def _trim(item: dict, top_k: int | None) -> dict:
    if top_k and item.get("probabilities"):
        ranked = sorted(item["probabilities"].items(), key=lambda kv: -kv[1])[:top_k]
        item["top"] = [{"label": k, "probability": v} for k, v in ranked]
    return item


def summary_line(results: list) -> str:
    """How many inputs were classified, held no speech, or failed."""
    from ser_cli.labels import SILENCE

    failed = sum(1 for r in results if r.error)
    silent = sum(1 for r in results if not r.error and r.label == SILENCE)
    return (
        f"{len(results)} file(s): {len(results) - failed - silent} with speech, "
        f"{silent} without speech (silence), {failed} failed"
    )


def timeline_rows(result) -> list[tuple[float, float, str, float | None]]:
    """(start, end, label, top probability) of a recording's rows, never overlapping (a fixed
    window ends where the next begins); a file classified whole is one row. Silence has no
    probability."""
    if not result.segments:
        probs = result.probabilities
        return [(0.0, result.duration, str(result.label), max(probs.values()) if probs else None)]
    segs = result.segments
    rows = []
    for i, s in enumerate(segs):
        end = min(s.end, segs[i + 1].start) if i + 1 < len(segs) else s.end
        top = max(s.probabilities.values()) if s.probabilities else None
        rows.append((s.start, end, s.label, top))
    return rows


def audacity_labels(result) -> str:
    """An Audacity label track (File > Import > Labels): start, end, label; tab-separated."""
    return "".join(f"{a:.3f}\t{b:.3f}\t{label}\n" for a, b, label, _ in timeline_rows(result))


def _cue(label: str, top: float | None) -> str:
    return label if top is None else f"{label} {top:.0%}"


def _clock(seconds: float, separator: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def subtitles(result, kind: str) -> str:
    """Emotion subtitles, one cue per row with its top probability: kind 'srt' or 'vtt'."""
    sep = "," if kind == "srt" else "."
    cues = []
    for i, (a, b, label, top) in enumerate(timeline_rows(result), start=1):
        head = f"{i}\n" if kind == "srt" else ""
        cues.append(f"{head}{_clock(a, sep)} --> {_clock(b, sep)}\n{_cue(label, top)}\n")
    text = "\n".join(cues)
    return f"WEBVTT\n\n{text}" if kind == "vtt" else text
