"""The doctor's report as a rich table: one row per check, with the fix beside it."""

from __future__ import annotations

from collections.abc import Sequence

from ser_cli.doctor import FAIL, PASS, WARN, Check

# How each status is shown: rich style and a label that still reads without colour.
STATUS_STYLE = {PASS: ("green", "ok"), WARN: ("yellow", "warn"), FAIL: ("bold red", "FAIL")}


def checks_table(checks: Sequence[Check]):
    """A rich Table of the checks, with a one-line summary as caption."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="ser doctor", title_justify="left", caption_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("found", overflow="fold")  # fold: long paths have no spaces to wrap at
    table.add_column("fix", overflow="fold")
    for check in checks:
        style, label = STATUS_STYLE[check.status]
        status = Text(label, style=style)
        if check.status == FAIL and not check.required:
            status.append(" (optional)", style="dim")
        table.add_row(check.name, status, check.detail, Text(check.fix, style=style))
    table.caption = _summary(checks)
    return table


def _summary(checks: Sequence[Check]) -> str:
    counts = {status: sum(c.status == status for c in checks) for status in STATUS_STYLE}
    blocking = sum(c.required and c.status == FAIL for c in checks)
    text = f"{counts[PASS]} ok, {counts[WARN]} warnings, {counts[FAIL]} failed"
    if blocking:
        return text + f" ({blocking} required: fix these before training or predicting)"
    return text + " (nothing blocks training or prediction)"
