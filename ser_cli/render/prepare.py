"""The report ``ser prepare`` prints: clips per split and emotion, speakers, rejected files."""

from __future__ import annotations

from pathlib import Path

from ser_cli.data.manifest import SPLITS
from ser_cli.data.prepare import PrepareResult
from ser_cli.labels import EMOTIONS

MAX_REJECTED_SHOWN = 50  # rows of the rejected table; summary.json lists them all
SECONDS_PER_HOUR = 3600


def prepare_report(result: PrepareResult):
    """A rich Group: a headline, clips per emotion x split, speakers per split (and fold),
    and the rejected files with their reasons."""
    from rich.console import Group

    parts = [_headline(result), _clips_table(result), _speakers_table(result)]
    if "fold_counts" in result.summary:
        parts.append(_folds_table(result))
    if result.rejected:
        parts.append(_rejected_table(result))
    return Group(*parts)


def _headline(result: PrepareResult):
    from rich.text import Text

    summary = result.summary
    hours = summary["duration_s"] / SECONDS_PER_HOUR
    text = Text()
    text.append(f"{result.dataset}", style="bold")
    text.append(
        f": {summary['clips']:,} clips from {len(summary['speakers'])} speakers "
        f"({hours:.2f} h), {len(result.rejected)} rejected, split '{summary['split']}' "
        f"(seed {summary['seed']})\n"
    )
    for corpus, part in summary.get("corpora", {}).items():
        text.append(
            f"  {corpus}: {part['clips']:,} clips, {len(part['speakers'])} speakers, "
            f"{', '.join(part['emotions'])}\n"
        )
    text.append(f"manifest: {result.manifest_path}\nsummary:  {result.summary_path}")
    return text


def _clips_table(result: PrepareResult):
    from rich.table import Table

    splits = result.summary["splits"]
    table = Table(title="clips per emotion and split", title_justify="left")
    table.add_column("emotion")
    for split in SPLITS:
        table.add_column(split, justify="right")
    table.add_column("total", justify="right", style="bold")
    for label in EMOTIONS:
        total = result.summary["emotions"].get(label, 0)
        if total:
            counts = [splits[s]["emotions"].get(label, 0) for s in SPLITS]
            table.add_row(label, *(_count(c) for c in counts), str(total))
    table.add_section()
    table.add_row(
        "all",
        *(str(splits[s]["clips"]) for s in SPLITS),
        str(result.summary["clips"]),
        style="bold",
    )
    return table


def _speakers_table(result: PrepareResult):
    return _groups_table(
        "speakers per split", "split", [(s, result.summary["splits"][s]) for s in SPLITS]
    )


def _folds_table(result: PrepareResult):
    return _groups_table("speakers per fold", "fold", list(result.summary["fold_counts"].items()))


def _groups_table(title: str, kind: str, groups: list[tuple[str, dict]]):
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    table.add_column(kind)
    table.add_column("clips", justify="right")
    table.add_column("speakers", justify="right")
    table.add_column("genders")
    table.add_column("speaker ids", overflow="fold")
    for name, group in groups:
        genders = ", ".join(f"{n} {g}" for g, n in group["genders"].items())
        table.add_row(
            name,
            str(group["clips"]),
            str(len(group["speakers"])),
            genders,
            Text(" ".join(group["speakers"])),
        )
    return table


def _rejected_table(result: PrepareResult):
    from rich.table import Table
    from rich.text import Text

    rejected = result.rejected
    table = Table(
        title=f"rejected files ({len(rejected)})",
        title_justify="left",
        title_style="bold yellow",
        caption_justify="left",
    )
    table.add_column("file", overflow="fold")
    table.add_column("reason", overflow="fold")
    for item in rejected[:MAX_REJECTED_SHOWN]:
        table.add_row(Text(_shown_path(item.path, result.corpus_dir)), Text(item.reason))
    if len(rejected) > MAX_REJECTED_SHOWN:
        table.caption = (
            f"... and {len(rejected) - MAX_REJECTED_SHOWN} more: see {result.summary_path}"
        )
    return table


def _shown_path(path: Path, corpus_dir: Path) -> str:
    """The path relative to the corpus folder when it lies inside it (CSV: the CSV's folder)."""
    base = corpus_dir.parent if corpus_dir.is_file() else corpus_dir
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _count(count: int) -> str:
    # An empty cell is a split with no clips of that emotion: show it, it matters.
    return str(count) if count else "[red]0[/]"
