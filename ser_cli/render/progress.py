"""A rich progress bar the CLI hands to the library as a plain callback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ser_cli.progress import Progress


@contextlib.contextmanager
def progress_bar(description: str, *, transient: bool = False) -> Iterator[Progress]:
    """Yield a callback that drives one rich progress bar (to stderr)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*columns, console=console, transient=transient) as progress:
        task = progress.add_task(description, total=None, info="")

        def update(done: int, total: int, info: str = "") -> None:
            progress.update(task, completed=done, total=total, info=info)

        yield update
