"""Batch prediction over archives of recordings on Ray (a local machine or a cluster).

The paths go into a Ray Data dataset; ``map_batches`` runs them through an actor pool in
which each actor loads the predictor once (torch run folder, bundled model or ``.onnx``)
and predicts a batch of files with :func:`~ser_cli.inference.predictor.predict_files` — the
same code, the same per-file errors and the same JSON fields as local `ser predict`.

Results are streamed to the output as batches finish: a ``.jsonl`` file gets one line per
file, appended and flushed; a ``.parquet`` output is journaled to ``<out>.partial.jsonl``
and written (atomically) when the run ends. Paths already in the output (or its journal)
are skipped, so rerunning the same command after a crash continues where it stopped.
On a cluster, every node needs ser-cli installed and the paths readable at the same place
(a shared file system).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ser_cli.errors import SerError, UsageError, short_reason
from ser_cli.inference.options import PredictOptions

OUTPUT_SUFFIXES = (".jsonl", ".parquet")
BATCH_FILES = 16  # files per map_batches call: big enough to amortise the call overhead
BLOCK_FILES = 256  # most paths per Ray Data block
BLOCKS_PER_ACTOR = 8  # at least this many blocks per actor, so none idles at the end
JOURNAL_SUFFIX = ".partial.jsonl"  # parquet outputs are journaled here until the run ends
FIELDS = ("path", "label", "probabilities", "duration", "segments", "error")  # parquet columns


@dataclass
class RaySummary:
    output: Path
    predicted: int  # files predicted in this run
    failed: int  # of those, files reported with an error
    skipped: int  # files already in the output from an earlier run
    seconds: float
    actors: int
    requested_actors: int = 0  # --actors as given; more than ``actors`` when capped

    @property
    def clips_per_second(self) -> float:
        return self.predicted / self.seconds if self.seconds > 0 else 0.0


def read_path_list(path: str | Path) -> list[str]:
    """The paths listed in a text file, one a line; blank lines and # comments ignored."""
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SerError(f"{path}: cannot read the list of paths ({exc}).") from None
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def done_paths(output: Path) -> set[str]:
    """Paths already predicted in ``output`` (and, for parquet, its journal)."""
    done: set[str] = set()
    if output.suffix == ".parquet" and output.exists():
        import pyarrow.parquet as pq

        try:
            done.update(pq.read_table(output, columns=["path"]).column("path").to_pylist())
        except Exception as exc:  # pyarrow raises several types for foreign files
            raise SerError(
                f"{output}: exists but is not a readable ser parquet file ({exc}); "
                "move it away or choose another --output."
            ) from None
    for row in _read_jsonl(_journal(output)):
        done.add(row["path"])
    return done


class _PredictBatch:
    """A Ray actor: loads the predictor once, then predicts batches of paths."""

    def __init__(self, model: str, options):
        from ser_cli.inference.load import load_predictor

        self.predictor = load_predictor(model)
        self.options = options  # the PredictOptions local predict would use

    def __call__(self, batch: dict) -> dict:
        from ser_cli.inference.predictor import predict_files

        paths = [Path(str(p)) for p in batch["path"]]
        results = predict_files(self.predictor, paths, self.options)
        # One JSON string per file keeps the block schema fixed whatever the results hold
        return {
            "path": [str(p) for p in paths],
            "result": [json.dumps(r.to_dict()) for r in results],
        }


def predict_with_ray(
    model: str,
    paths: Iterable[Path | str],
    output: str | Path,
    *,
    options: PredictOptions | None = None,
    address: str | None = None,
    actors: int = 2,
    batch_size: int = BATCH_FILES,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> RaySummary:
    """Predict ``paths`` on Ray with ``actors`` actors and stream the results to ``output``.

    ``options``: the same :class:`PredictOptions` (and defaults) as local predict; one Ray
    cannot honour is refused (:func:`check_ray_options`). ``address``: an existing cluster
    ('auto', 'ray://host:10001', 'host:6379'); None starts a local Ray with ``actors`` CPUs.
    Returns counts; per-file errors are in the output rows.
    """
    options = options or PredictOptions()
    check_ray_options(options)
    output = Path(output).expanduser()
    if output.suffix not in OUTPUT_SUFFIXES:
        raise SerError(
            f"--output must end in {' or '.join(OUTPUT_SUFFIXES)} with --engine ray (got '{output.name}')."
        )
    if actors < 1 or batch_size < 1:
        raise SerError("--actors and the batch size must be at least 1.")
    from ser_cli.outputs import Output, check_outputs

    paths = list(paths)
    # the output, its journal and the rows already there: all checked before Ray starts
    check_outputs([Output(output, "--output", suffixes=OUTPUT_SUFFIXES)], paths)
    if output.suffix == ".parquet":
        check_outputs([Output(_journal(output), "--output (its journal)")], paths)
    try:
        import ray
    except ImportError:
        raise SerError("--engine ray needs Ray: pip install 'ser-cli[ray]'.") from None
    from ser_cli.inference.load import DEFAULT_MODEL, load_predictor

    if str(model) != DEFAULT_MODEL and Path(model).expanduser().exists():
        model = str(Path(model).expanduser().resolve())  # actors may start in another folder

    load_predictor(model)  # fail here, in one line, not inside every actor
    done = done_paths(output)
    todo = list(dict.fromkeys(str(Path(p).resolve()) for p in paths))  # each file once
    skipped = sum(1 for p in todo if p in done)
    todo = [p for p in todo if p not in done]
    requested = actors
    if address is None:  # a local Ray: no more actors than files or cores (said in the summary)
        actors = max(1, min(actors, len(todo) or 1, os.cpu_count() or 1))
    started = time.perf_counter()
    predicted = failed = 0
    if todo:
        own_ray = not ray.is_initialized()
        if own_ray:
            _init_ray(ray, address, actors)
        try:
            rows = _run(ray, todo, model, actors, options, batch_size)
            predicted, failed = _stream(rows, output, len(todo), on_progress)
        finally:
            if own_ray:
                ray.shutdown()
    if output.suffix == ".parquet":
        _finish_parquet(output)
    seconds = time.perf_counter() - started
    return RaySummary(output, predicted, failed, skipped, seconds, actors, requested)


def check_ray_options(options: PredictOptions) -> None:
    """Refuse, in one line, the options the Ray engine cannot honour (never ignore them)."""
    if options.adapt != "none":
        raise UsageError(
            "--adapt needs every file of a speaker at once; use it without --engine ray."
        )
    if options.top_k is not None:
        raise UsageError(
            "--top-k trims what local predict shows; Ray rows keep every probability "
            "(leave --top-k out with --engine ray)."
        )


def _init_ray(ray, address: str | None, actors: int) -> None:
    import logging

    kwargs = dict(
        log_to_driver=False, include_dashboard=False, logging_level=logging.ERROR
    )  # the CLI shows progress; Ray's own logs would bury it
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=actors, **kwargs)
    except Exception as exc:  # ConnectionError, RuntimeError, ...: say where and what to do
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise SerError(
            f"could not start {where} ({str(exc).strip().splitlines()[0][:160]}); "
            "check --address (e.g. ray://HEAD:10001) or run without it for a local Ray."
        ) from None


def _run(ray, todo: list[str], model: str, actors: int, options, batch_size: int):
    """An iterator of result batches ({"path": [...], "result": [json, ...]}) as they finish."""
    import logging

    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-run INFO lines
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = False  # write whatever finishes first
    # Enough blocks that every actor stays busy to the end, few enough to stay cheap
    per_block = min(BLOCK_FILES, max(1, -(-len(todo) // (actors * BLOCKS_PER_ACTOR))))
    blocks = -(-len(todo) // per_block)
    ds = ray.data.from_items([{"path": p} for p in todo], override_num_blocks=blocks)
    ds = ds.map_batches(
        _PredictBatch,
        fn_constructor_kwargs={"model": model, "options": options},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=1,
    )
    return ds.iter_batches(batch_size=None, batch_format="numpy")


def _stream(batches, output: Path, total: int, on_progress) -> tuple[int, int]:
    """Append each batch's rows to the output (or its journal) as it arrives, flushed."""
    target = _journal(output)
    _end_last_line(target)
    predicted = failed = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as fh:
        for batch in batches:
            for path, line in zip(batch["path"], batch["result"], strict=True):
                fh.write(str(line) + "\n")
                predicted += 1
                failed += json.loads(str(line)).get("error") is not None
                if on_progress:
                    on_progress(predicted, total, Path(str(path)).name)
            fh.flush()  # a crash loses at most the batch being written
    return predicted, failed


def _journal(output: Path) -> Path:
    """Where rows are appended: the .jsonl output itself, or a parquet output's journal."""
    return output if output.suffix == ".jsonl" else output.with_name(output.name + JOURNAL_SUFFIX)


def _end_last_line(path: Path) -> None:
    """Make the next append start on a fresh line: a last row that is whole but lacks its
    newline (an editor, a copy) gets one and is kept; a line a crash cut is removed (its file
    was not counted as done, so it is predicted again)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    start = data.rfind(b"\n") + 1
    if _row(data[start:].decode("utf-8", errors="replace")) is not None:
        with path.open("ab") as fh:
            fh.write(b"\n")
    else:
        with path.open("r+b") as fh:
            fh.truncate(start)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SerError(
            f"{path}: exists but is not a readable ser .jsonl output ({short_reason(exc)}); "
            "move it away or choose another --output."
        ) from None
    rows = [_row(line) for line in text.splitlines()]  # a line cut by a crash: predicted again
    return [row for row in rows if row is not None]


def _row(line: str) -> dict | None:
    """A result row of the output, or None for a line that is not one (cut by a crash)."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    return row if isinstance(row, dict) and isinstance(row.get("path"), str) else None


def _finish_parquet(output: Path) -> None:
    """Fold the journal into the parquet output (atomically), then drop the journal."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ser_cli.atomic import atomic_path

    journal = _journal(output)
    rows = _read_jsonl(journal)
    if not rows and output.exists():
        journal.unlink(missing_ok=True)
        return
    new = pa.Table.from_pylist([_flat_row(r) for r in rows], schema=_schema())
    tables = [pq.read_table(output), new] if output.exists() else [new]
    table = pa.concat_tables(tables, promote_options="permissive")
    with atomic_path(output) as tmp:
        pq.write_table(table, tmp)
    journal.unlink(missing_ok=True)


def _flat_row(row: dict) -> dict:
    """A result row with every parquet column (local predict leaves out empty ones)."""
    return {key: row.get(key) for key in FIELDS}


def _schema():
    """Columns for FIELDS; probabilities and segments as map/list types (labels vary by model)."""
    import pyarrow as pa

    probs = pa.map_(pa.string(), pa.float64())
    segment = pa.struct(
        [
            ("start", pa.float64()),
            ("end", pa.float64()),
            ("label", pa.string()),
            ("probabilities", probs),
        ]
    )
    return pa.schema(
        [
            ("path", pa.string()),
            ("label", pa.string()),
            ("probabilities", probs),
            ("duration", pa.float64()),
            ("segments", pa.list_(segment)),
            ("error", pa.string()),
        ]
    )
