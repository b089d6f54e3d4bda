"""What `ser listen` shows: a live panel of emotion bars, or plain lines when not on a terminal."""

from __future__ import annotations

from collections.abc import Sequence

from ser_cli.labels import SILENCE, UNCERTAIN
from ser_cli.listen.session import ListenSummary
from ser_cli.listen.sources import InputDevice
from ser_cli.listen.stream import Update

BAR_WIDTH = 32  # characters per probability bar
SPEECH_STYLE, SILENCE_STYLE = "bold green", "dim"


def listen_view(update: Update | None, source: str, labels: Sequence[str]):
    """The Live display: header (source, elapsed audio, real-time factor), then a bar per
    label with its smoothed probability, the top one highlighted; dimmed during silence."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    if update is None:
        status = Text("waiting for audio…", style="dim")
        probs = [1.0 / len(labels)] * len(labels)
        top, speech = None, False
    else:
        speech = update.is_speech
        width = max(len(label) for label in (*labels, SILENCE, UNCERTAIN))  # a steady layout
        status = Text.assemble(
            ("now: ", "bold"),
            (f"{update.label:<{width}}", SPEECH_STYLE if speech else SILENCE_STYLE),
            (f"  {update.time:7.1f} s", ""),
            (f"   RTF {update.rtf:.3f}", "cyan"),
            (f"  ({update.seconds * 1000:4.0f} ms / {update.hop:.2f} s hop)", "dim"),
        )
        if update.adapted:
            status.append("   adapted to speaker", style="dim")
        probs = [float(p) for p in update.smoothed]
        top = labels[max(range(len(probs)), key=probs.__getitem__)]
    bars = Table.grid(padding=(0, 1))
    bars.add_column(no_wrap=True, min_width=max(len(label) for label in labels))
    bars.add_column(no_wrap=True)
    bars.add_column(justify="right", no_wrap=True)
    for label, p in zip(labels, probs, strict=True):
        is_top = speech and label == top
        colour = "green" if is_top else "blue"
        # In silence nothing was classified: empty bars and no numbers
        bar = ProgressBar(
            total=1.0,
            completed=p if speech else 0.0,
            width=BAR_WIDTH,
            complete_style=colour,
            finished_style=colour,
        )
        name = Text(label, style="bold green" if is_top else ("dim" if not speech else ""))
        bars.add_row(
            name, bar, Text(f"{p:.2f}" if speech else "   –", style="" if speech else "dim")
        )
    return Panel(
        Group(status, bars), title=f"ser listen · {source}", title_align="left", expand=False
    )


def update_line(update: Update) -> str:
    """One plain line per update, for pipes and logs: time, label, smoothed probabilities
    (none for a silent hop: nothing was classified)."""
    if not update.is_speech:
        return f"{update.time:7.2f} s  {update.label}"
    probs = "  ".join(
        f"{label} {p:.2f}" for label, p in zip(update.labels, update.smoothed, strict=True)
    )
    return f"{update.time:7.2f} s  {update.label:<10} {probs}"


def summary_line(summary: ListenSummary) -> str:
    """The session in one line: what was heard and how fast it was processed."""
    if summary.hops == 0:
        return "no audio was processed."
    stopped = "stopped by Ctrl-C after " if summary.interrupted else "listened to "
    heard = f"mostly {summary.label}" if summary.label != SILENCE else "no speech"
    per_hop = summary.processing_seconds / summary.hops * 1000
    return (
        f"{stopped}{summary.audio_seconds:.1f} s ({summary.speech_hops} of {summary.hops} hops speech): {heard}; "
        f"{per_hop:.1f} ms per hop, real-time factor {summary.mean_rtf:.3f} (worst {summary.max_rtf:.3f})"
    )


def devices_table(devices: Sequence[InputDevice]):
    """The input devices as a rich Table, or a one-line note when there are none."""
    from rich.table import Table
    from rich.text import Text

    if not devices:
        return Text("no input devices found; feed a recording with `ser listen --file PATH`.")
    table = Table(title="input devices", title_justify="left")
    table.add_column("index", justify="right")
    table.add_column("name", overflow="fold")
    table.add_column("channels", justify="right")
    table.add_column("default rate (Hz)", justify="right")
    for device in devices:
        table.add_row(
            str(device.index), device.name, str(device.channels), f"{device.default_rate:.0f}"
        )
    table.caption = "record from one with --device-index N"
    return table
