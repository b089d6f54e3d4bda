"""The `ser` command: parse options, call one library function, render the result.

Nothing heavy is imported at module level, so `ser --help` starts instantly; each command
imports the library pieces it needs. Library errors (``SerError``) become one red line on
stderr and a non-zero exit.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import typer

from ser_cli.__version__ import __version__

app = typer.Typer(
    name="ser",
    help="Speech emotion recognition: prepare corpora, train, evaluate, predict and listen.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _fail(message: str, code: int = 1) -> None:
    _console(stderr=True).print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def handles_errors(func):
    """Turn library errors into one clear line and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ser_cli.errors import SerError

        try:
            return func(*args, **kwargs)
        except SerError as exc:
            _fail(str(exc), exc.exit_code)

    return wrapper


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ser {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Speech emotion recognition from the command line."""


def _split_list(text: Optional[str]) -> Optional[list[str]]:
    if text is None:
        return None
    return [item.strip() for item in text.split(",") if item.strip()]


@app.command()
@handles_errors
def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON for scripts."),
) -> None:
    """Check Python, torch, audio I/O, microphone and folders; say what to fix."""
    from ser_cli.doctor import exit_code, run_checks

    checks = run_checks()
    if as_json:
        import json

        typer.echo(json.dumps([c.to_dict() for c in checks], indent=2))
    else:
        from ser_cli.render.doctor import checks_table

        _console().print(checks_table(checks))
    raise typer.Exit(exit_code(checks))


@app.command()
@handles_errors
def prepare(
    corpus_dir: Path = typer.Argument(..., help="Corpus folder (or a CSV of path,label[,speaker])."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for manifest.csv and summary.json."),
    dataset: str = typer.Option("auto", "--dataset", "-d", help="Corpus layout, or 'auto' to detect it."),
    split: str = typer.Option("speaker", "--split", help="'speaker' (disjoint, default) or 'random' (leaks speakers)."),
    test_speakers: Optional[str] = typer.Option(None, "--test-speakers", help="Comma list of test speakers."),
    val_speakers: Optional[str] = typer.Option(None, "--val-speakers", help="Comma list of validation speakers."),
    folds: int = typer.Option(0, "--folds", min=0, help="Add a speaker-disjoint 'fold' column with K folds."),
    seed: int = typer.Option(0, "--seed", help="Seed for the split: same inputs and seed, same manifest."),
) -> None:
    """Validate a corpus and write a manifest with speaker-disjoint splits."""
    from ser_cli.prepare import prepare_corpus
    from ser_cli.render.prepare import prepare_report
    from ser_cli.render.progress import progress_bar

    with progress_bar("validating") as on_progress:
        result = prepare_corpus(
            corpus_dir,
            out,
            dataset=dataset,
            split=split,
            test_speakers=_split_list(test_speakers),
            val_speakers=_split_list(val_speakers),
            folds=folds,
            seed=seed,
            on_progress=on_progress,
        )
    console = _console()
    for warning in result.warnings:
        _console(stderr=True).print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    console.print(prepare_report(result))


def main() -> None:
    """Console-script entry point."""
    app(prog_name="ser")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
