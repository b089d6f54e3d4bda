"""The `ser` command: parse options, call one library function, render the result.

Nothing heavy is imported at module level, so `ser --help` starts instantly; each command
imports the library pieces it needs. Library errors (``SerError``) become one red line on
stderr and a non-zero exit.
"""

from __future__ import annotations

import functools
import sys
from enum import Enum
from pathlib import Path

import typer

from ser_cli.__version__ import __version__

app = typer.Typer(
    name="ser",
    help="Speech emotion recognition: prepare corpora, train, evaluate, predict and listen.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# Fixed choices, so `--help` lists them and click rejects anything else (exit 2). Their values
# are the library's (tests check they match), written out here to keep `ser --help` instant.
class SplitMethod(str, Enum):  # data.splits: SPEAKER, RANDOM
    speaker = "speaker"
    random = "random"


class EvalSplit(str, Enum):  # data.manifest.SPLITS, and every row
    train = "train"
    val = "val"
    test = "test"
    all = "all"


class Device(str, Enum):  # training.trainer.resolve_device
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    audacity = "audacity"  # a label track: start, end, label (one recording)
    srt = "srt"  # emotion subtitles (one recording)
    vtt = "vtt"


TIMELINE_FORMATS = ("audacity", "srt", "vtt")  # they describe one recording
SUFFIX_FORMATS = {".json": "json", ".csv": "csv", ".srt": "srt", ".vtt": "vtt"}  # for -o


class Segment(str, Enum):  # inference.options.SEGMENT_MODES
    vad = "vad"
    fixed = "fixed"


# What --model accepts in predict, listen and eval (inference.load.load_predictor decides).
MODEL_HELP = (
    "Run folder, 'default' (bundled), an .onnx file, or a transformers classifier "
    "(folder or hub id)."
)


def _model_option(default: str | None = "default", help_text: str = MODEL_HELP):
    """The --model/-m option of predict, listen and eval."""
    return typer.Option(default, "--model", "-m", help=help_text)


class Engine(str, Enum):
    local = "local"  # this process
    ray = "ray"  # Ray Data actors, local or on a cluster (--address)


class ExportFormat(str, Enum):
    onnx = "onnx"


class Adapt(str, Enum):  # inference.predictor.ADAPT_MODES
    none = "none"
    all = "all"
    folder = "folder"


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _fail(message: str, code: int = 1) -> None:
    import os

    if os.environ.get("RANK", "0") != "0":  # torchrun: every rank fails alike; rank 0 says why
        raise typer.Exit(code)
    from rich.markup import escape

    _console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
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
        False,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="Show the version and exit.",
    ),
) -> None:
    """Speech emotion recognition from the command line."""


def _show_warnings(notes) -> None:
    """Notes for the user (a hub classifier's labels that match no known emotion, a split
    without some class), once each, on stderr."""
    from rich.markup import escape

    for warning in notes:
        _console(stderr=True).print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)


def _cv_mode(cv: str) -> tuple[str | None, int]:
    """`--cv` as (what a group is, K): ("fold", K), ("corpus", 0), or (None, 0) for no CV."""
    from ser_cli.errors import UsageError

    value = cv.strip().lower()
    if value == "corpus":
        return "corpus", 0
    if value.isdigit() and int(value) != 1:
        return ("fold", int(value)) if int(value) else (None, 0)
    raise UsageError(
        f"--cv {cv}: give a number of folds (2 or more) or 'corpus' (leave one corpus out)."
    )


def _split_list(text: str | None) -> list[str] | None:
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
    corpus_dirs: list[Path] = typer.Argument(
        ...,
        help="Corpus folder(s) (or a CSV of path,label[,speaker]); several make one manifest "
        "with a 'corpus' column.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for manifest.csv and summary.json."),
    dataset: list[str] | None = typer.Option(
        None,
        "--dataset",
        "-d",
        help="Corpus layout, or 'auto' to detect it (default); once per corpus, or once for all.",
    ),
    split: SplitMethod = typer.Option(
        SplitMethod.speaker,
        "--split",
        help="'speaker' (disjoint, default) or 'random' (leaks speakers).",
    ),
    test_speakers: str | None = typer.Option(
        None, "--test-speakers", help="Comma list of test speakers."
    ),
    val_speakers: str | None = typer.Option(
        None, "--val-speakers", help="Comma list of validation speakers."
    ),
    folds: int = typer.Option(
        0, "--folds", min=0, help="Add a speaker-disjoint 'fold' column with K folds."
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seed for the split: same inputs and seed, same manifest."
    ),
) -> None:
    """Validate one or more corpora and write a manifest with speaker-disjoint splits."""
    from ser_cli.data.prepare import prepare_corpora
    from ser_cli.render.prepare import prepare_report
    from ser_cli.render.progress import progress_bar

    with progress_bar("validating") as on_progress:
        result = prepare_corpora(
            corpus_dirs,
            out,
            layouts=dataset,
            split=split.value,
            test_speakers=_split_list(test_speakers),
            val_speakers=_split_list(val_speakers),
            folds=folds,
            seed=seed,
            on_progress=on_progress,
        )
    _show_warnings(result.warnings)
    _console().print(prepare_report(result))


@app.command()
@handles_errors
def models(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the registered models with their sizes and what they read."""
    from ser_cli.models.registry_info import describe_models

    rows = describe_models()
    if as_json:
        import json

        typer.echo(json.dumps(rows, indent=2))
        return
    from ser_cli.render.metrics import models_table

    _console().print(models_table(rows))


@app.command()
@handles_errors
def train(
    model: str = typer.Option(
        None, "--model", "-m", help="Registered model name (see `ser models`)."
    ),
    data: Path = typer.Option(
        ..., "--data", help="manifest.csv from `ser prepare` (or its folder)."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Run folder for checkpoints, config and history."
    ),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="YAML run config (see recipes/)."
    ),
    overrides: list[str] | None = typer.Option(
        None, "--set", help="Override a setting, e.g. --set train.lr=1e-3."
    ),
    epochs: int | None = typer.Option(
        None, "--epochs", min=1, help="Shortcut for --set train.epochs=N."
    ),
    device: Device | None = typer.Option(None, "--device", help="Where to train."),
    seed: int | None = typer.Option(None, "--seed", help="Shortcut for --set train.seed=N."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run in --out."),
    cv: str = typer.Option(
        "0",
        "--cv",
        help="K: speaker-disjoint K-fold cross-validation over the manifest's folds; 'corpus': "
        "leave one corpus out, each in turn.",
    ),
    tensorboard: bool = typer.Option(
        False, "--tensorboard", help="Also write TensorBoard event files to RUN/tensorboard."
    ),
) -> None:
    """Train a model on a manifest (or cross-validate it with --cv K)."""
    import os

    from ser_cli.config import load_run_config
    from ser_cli.data.manifest import read_manifest
    from ser_cli.outputs import Output, check_outputs, run_lock
    from ser_cli.render.progress import progress_bar

    check_outputs([Output(out, "--out", folder=True, model=True)], [data, config], resume=resume)
    by, k = _cv_mode(cv)
    sets = list(overrides or [])
    sets += [f"train.epochs={epochs}"] if epochs else []
    sets += [f"train.device={device.value}"] if device else []
    sets += [f"train.seed={seed}"] if seed is not None else []
    base = None
    if resume:  # the run's own settings are the base: leaving out --model changes nothing
        from ser_cli.training.run_state import saved_config

        base = saved_config(out)
    cfg = load_run_config(config, sets, model=model, base=base)
    rows = read_manifest(data)
    if os.environ.get("RANK", "0") == "0":
        from ser_cli.data.manifest import manifest_warnings

        _show_warnings(manifest_warnings(data, rows))
    console = _console()
    # one writer per run folder; under torchrun only rank 0 writes (and locks)
    with run_lock(out, hold=os.environ.get("RANK", "0") == "0"):
        _train(rows, cfg, out, by, k, resume, tensorboard, console, progress_bar)


def _train(rows, cfg, out, by, k, resume, tensorboard, console, progress_bar) -> None:
    if by:
        from ser_cli.render.metrics import cv_table
        from ser_cli.training.crossval import ensure_folds, run_cv

        if by == "fold":
            rows = ensure_folds(rows, k, seed=cfg.train.seed)
        stack = []

        def on_fold(fold, i, n):
            if stack:
                stack.pop().__exit__(None, None, None)
            bar = progress_bar(f"fold {i + 1}/{n}")
            stack.append(bar)
            return bar.__enter__()

        try:
            result = run_cv(rows, cfg, out, on_fold=on_fold, resume=resume, by=by)
        finally:
            if stack:
                stack.pop().__exit__(None, None, None)
        console.print(cv_table(result))
        console.print(f"report: {out / 'cv.json'}")
        return
    from ser_cli.training.trainer import train_run

    board = None
    if tensorboard:
        from ser_cli.training.tensorboard_log import TensorBoardLog

        board = TensorBoardLog(out)
    try:
        with progress_bar(f"training {cfg.model}") as on_progress:
            result = train_run(
                rows, cfg, out, resume=resume, on_progress=on_progress, on_epoch=board
            )
    finally:
        if board:
            board.close()
    summary = f"trained {cfg.model} for {result.epochs_run} epoch(s) in {result.seconds / 60:.1f} min -> {out}"
    if result.best_metrics:
        m = result.best_metrics
        summary += f"\nbest validation: accuracy {m['accuracy']:.1%}, UAR {m['uar']:.1%}, macro-F1 {m['macro_f1']:.1%}"
    console.print(summary)


@app.command(name="eval")
@handles_errors
def evaluate(
    model: list[str] | None = _model_option(None, MODEL_HELP + " Repeat to compare."),
    data: Path = typer.Option(
        ..., "--data", help="manifest.csv from `ser prepare` (or its folder)."
    ),
    split: EvalSplit = typer.Option(EvalSplit.test, "--split", help="Which split to score."),
    adapt: bool = typer.Option(
        True, "--adapt/--no-adapt", help="Normalise each speaker by their own unlabelled clips."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Folder for report.json and confusion PNGs (default: the run folder).",
    ),
    per_file: bool = typer.Option(
        False, "--per-file", help="Add each file's predicted label and probabilities to the report."
    ),
) -> None:
    """Score models on a split: accuracy, UAR, macro-F1, per class, confusion matrix."""
    from ser_cli.data.manifest import check_split, manifest_warnings, read_manifest
    from ser_cli.inference.evaluate import evaluate_models

    check_split(split)
    if out is not None:
        from ser_cli.outputs import Output, check_outputs

        check_outputs([Output(out, "--out", folder=True)], [data])
    rows = read_manifest(data)
    _show_warnings(manifest_warnings(data, rows))
    reports, written = evaluate_models(
        model or ["default"],
        rows,
        split=split.value,
        adapt=adapt,
        out_dir=out,
        source=data,
        per_file=per_file,
    )
    if as_json:
        import json

        payload = reports[next(iter(reports))] if len(reports) == 1 else reports
        typer.echo(json.dumps(payload, indent=2))
        return
    from rich.markup import escape

    from ser_cli.render.metrics import eval_report

    for report in reports.values():
        _show_warnings(report.get("warnings", ()))
    console = _console()
    console.print(eval_report(reports))
    for path in written:
        console.print(f"wrote {escape(str(path))}", soft_wrap=True)
    if not written:
        console.print("reports not saved (bundled or read-only model); add --out DIR to keep them.")


@app.command()
@handles_errors
def predict(
    paths: list[str] = typer.Argument(None, help="Audio files, folders (recursive) or globs."),
    model: str = _model_option(),
    top_k: int | None = typer.Option(
        None, "--top-k", min=1, help="Show only the K most likely emotions."
    ),
    fmt: OutputFormat = typer.Option(
        OutputFormat.table,
        "--format",
        "-f",
        help="Output format; audacity, srt and vtt describe one recording "
        "(with -o and no --format: from its .json/.csv/.srt/.vtt suffix).",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the result (any format but table) to this file."
    ),
    segment: Segment | None = typer.Option(
        None,
        "--segment",
        show_default="vad, or fixed when --window/--hop is given",
        help="Recordings longer than the model reads whole: vad = a row per utterance and "
        "per pause; fixed = --window/--hop windows.",
    ),
    pause: float | None = typer.Option(
        None,
        "--pause",
        show_default="0.5",
        help="--segment vad: seconds of non-speech that end an utterance (shorter pauses are "
        "bridged, longer ones are silence rows).",
    ),
    # None: the library's defaults (PredictOptions), which depend on the model
    window: float | None = typer.Option(
        None,
        "--window",
        show_default="the model's longest input, 8 s",
        help="--segment fixed: files up to this many seconds are classified whole; longer ones "
        "in windows this long.",
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="Timeline PNG (a folder, or NAME.png suffixed per file, for several)."
    ),
    hop: float | None = typer.Option(
        None,
        "--hop",
        show_default="half the window",
        help="--segment fixed: seconds between window starts.",
    ),
    adapt: Adapt = typer.Option(
        Adapt.none,
        "--adapt",
        help="Speaker adaptation: none, all (inputs are one speaker) or folder (one per folder).",
    ),
    min_confidence: float = typer.Option(
        0.0,
        "--min-confidence",
        help="Report 'uncertain' when the top probability is below this (0..1).",
    ),
    speech_check: bool = typer.Option(
        True,
        "--speech-check/--no-speech-check",
        help="Check each clip for speech first and report silence without it; "
        "--no-speech-check classifies every audible clip (the check misses some "
        "emotional speech, docs/accuracy.md).",
    ),
    from_list: Path | None = typer.Option(
        None, "--from-list", help="Also predict the audio paths listed in this file, one a line."
    ),
    engine: Engine = typer.Option(
        Engine.local, "--engine", help="ray: batch prediction; --output .jsonl or .parquet."
    ),
    address: str | None = typer.Option(
        None, "--address", help="--engine ray: a running cluster, e.g. ray://HEAD:10001 or auto."
    ),
    actors: int = typer.Option(
        2, "--actors", min=1, help="--engine ray: actors, each loading the model once."
    ),
) -> None:
    """Emotion probabilities for audio files, folders and long recordings."""
    from contextlib import nullcontext

    from rich.markup import escape

    from ser_cli.errors import SerError
    from ser_cli.inference.load import load_predictor
    from ser_cli.inference.options import PAUSE, PredictOptions
    from ser_cli.inference.predictor import expand_inputs, predict_files
    from ser_cli.render import predict as render
    from ser_cli.render.progress import progress_bar

    try:
        options = PredictOptions(
            segment=segment.value if segment else None,
            window=window,
            hop=hop,
            pause=PAUSE if pause is None else pause,
            min_confidence=min_confidence,
            adapt=adapt.value,
            top_k=top_k,
            speech_check=speech_check,
        )
    except SerError as exc:  # every check there is about an option's value: a usage error
        _fail(str(exc), 2)
    if pause is not None and options.mode != "vad":
        _fail("--pause ends utterances of --segment vad; leave it out with fixed windows.", 2)
    if output is not None and engine is Engine.local:
        from ser_cli.atomic import check_output_file

        suffix_fmt = SUFFIX_FORMATS.get(output.suffix.lower())
        if fmt is OutputFormat.table and suffix_fmt is None:
            _fail(
                f"-o {output}: a table is for the screen; name a .json, .csv, .srt or .vtt "
                "file, or add --format json|csv|audacity|srt|vtt.",
                2,
            )
        fmt = OutputFormat(suffix_fmt) if fmt is OutputFormat.table else fmt
        check_output_file(output, "-o")
    if plot is not None and plot.suffix and plot.suffix.lower() != ".png" and not plot.is_dir():
        _fail(f"--plot {plot}: timelines are PNG images; name a .png file or a folder.", 2)
    files, missing = expand_inputs(paths or [])
    for item in missing:
        _console(stderr=True).print(
            f"[red]✗[/] {escape(item)}: no such file, folder or matching glob"
        )
    if from_list is not None:
        from ser_cli.inference.ray_engine import read_path_list

        files += [Path(p) for p in read_path_list(from_list)]  # missing ones fail per file
    if not files:
        _fail("no audio files to predict; give .wav/.flac/.ogg/.mp3 files, folders or globs.", 2)
    from ser_cli.outputs import Output, check_outputs

    plots = None if plot is None else Output(plot, "--plot", folder=plot.suffix.lower() != ".png")
    check_outputs(
        [o for o in (Output(output, "-o") if output else None, plots) if o is not None],
        [*files, from_list],
    )
    if fmt.value in TIMELINE_FORMATS and len(files) != 1:
        _fail(f"--format {fmt.value} describes one recording; give one file (got {len(files)}).", 2)
    if engine is Engine.ray:
        if plot is not None:
            _fail("--plot draws local predictions; leave it out with --engine ray.", 2)
        if fmt is not OutputFormat.table and fmt.value not in ("json",):
            _fail(
                f"--engine ray writes .jsonl or .parquet rows; leave out --format {fmt.value}.", 2
            )
        _predict_on_ray(model, files, output, address, actors, options, len(missing))
        return
    predictor = load_predictor(model)
    _show_warnings(predictor.warnings)
    # One file needs no bar: nullcontext() yields None, so predict_files reports no progress.
    bar = progress_bar("predicting", transient=True) if len(files) > 1 else nullcontext()
    with bar as on_progress:
        results = predict_files(predictor, files, options, on_progress=on_progress)
    if plot is not None:
        from ser_cli.plots import save_timelines

        for written in save_timelines(results, plot, predictor.labels):
            _console(stderr=True).print(f"wrote {escape(str(written))}", soft_wrap=True)
    if fmt == "table":
        _console().print(render.prediction_view(results, top_k))
    else:
        if fmt == "json":
            text = render.predictions_json(results, top_k)
        elif fmt == "csv":
            text = render.predictions_csv(results, predictor.labels)
        elif fmt == "audacity":
            text = render.audacity_labels(results[0]) if not results[0].error else ""
        else:
            text = render.subtitles(results[0], fmt.value) if not results[0].error else ""
        for r in results:  # the table lists failures itself; the other formats on stderr
            if r.error:
                _console(stderr=True).print(f"[red]✗[/] {escape(r.error)}", soft_wrap=True)
        if output and all(r.error for r in results):  # never replace a good file with errors
            _console(stderr=True).print(f"not writing {escape(str(output))}: no input succeeded.")
        elif output:
            from ser_cli.atomic import write_text

            write_text(output, text if text.endswith("\n") else text + "\n")
            _console(stderr=True).print(f"wrote {escape(str(output))}", soft_wrap=True)
        elif text:
            typer.echo(text, nl=not text.endswith("\n"))
    if fmt == "table" and len(results) > 1:  # json and csv carry the counts themselves
        _console().print(render.summary_line(results), soft_wrap=True)
    failed = sum(1 for r in results if r.error) + len(missing)
    if failed:
        _console(stderr=True).print(
            f"[red]{failed} of {len(results) + len(missing)} input(s) failed[/] (listed above)."
        )
        raise typer.Exit(1)


def _predict_on_ray(model, files, output, address, actors, options, missing) -> None:
    from ser_cli.inference.ray_engine import check_ray_options, predict_with_ray
    from ser_cli.render.progress import progress_bar

    if output is None:
        _fail("--engine ray writes its results to --output results.jsonl or results.parquet.", 2)
    check_ray_options(options)  # before Ray starts: one line for an option it cannot honour
    with progress_bar("predicting on ray") as on_progress:
        summary = predict_with_ray(
            model, files, output, options=options, address=address, actors=actors,
            on_progress=on_progress,
        )  # fmt: skip
    if summary.requested_actors > summary.actors:
        _console(stderr=True).print(
            f"--actors {summary.requested_actors}: using {summary.actors}, as many as there are "
            "files to predict and CPU cores here.",
            soft_wrap=True,
        )
    _console().print(
        f"predicted {summary.predicted} file(s) with {summary.actors} actor(s) in {summary.seconds:.1f} s "
        f"({summary.clips_per_second:.1f} clips/s); {summary.skipped} already in {summary.output}",
        soft_wrap=True,
    )
    if summary.failed or missing:
        _console(stderr=True).print(
            f"[red]{summary.failed + missing} input(s) failed[/] (see the 'error' field in {output}).",
            soft_wrap=True,
        )
        raise typer.Exit(1)


@app.command()
@handles_errors
def ensemble(
    runs: list[Path] = typer.Argument(
        ...,
        help="Two or more `ser train` run folders trained on one training set (e.g. other train.seed).",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="The folder to write the ensemble to."),
) -> None:
    """Combine trained runs into one model that averages their probabilities."""
    from ser_cli.models.combine import combine_runs

    path = combine_runs(runs, out)
    _console().print(
        f"ensemble of {len(runs)} runs -> {path} (use it as --model {path}; uncalibrated: "
        "`ser eval` reports its ECE)"
    )


@app.command()
@handles_errors
def export(
    model: str = typer.Argument(..., help="Run folder, or 'default' for the bundled model."),
    out: Path = typer.Option(..., "--out", "-o", help="The .onnx file to write."),
    fmt: ExportFormat = typer.Option(ExportFormat.onnx, "--format", "-f", help="Export format."),
) -> None:
    """Export a model to ONNX (labels, features and statistics inside) for torch-free predict."""
    from ser_cli.inference.onnx_export import export_onnx

    if out.suffix.lower() != ".onnx":  # `--model` recognises an ONNX file by its suffix
        if out.suffix:
            _fail(f"--out {out}: an ONNX export must end in .onnx (got '{out.suffix}').", 2)
        out = out.with_name(out.name + ".onnx")
    result = export_onnx(model, out)
    speaker = (
        f", with resemblyzer's speaker encoder ({result.speaker_encoder} exporter, "
        f"within {result.speaker_difference:.1e})"
        if result.speaker_encoder
        else ""
    )
    _console().print(
        f"exported {result.model} ({result.exporter} exporter, {result.bytes / 1e6:.1f} MB) -> {result.path}; "
        f"matches torch within {result.max_difference:.1e}{speaker}"
    )


@app.command()
@handles_errors
def listen(
    model: str = _model_option(),
    file: Path | None = typer.Option(
        None, "--file", help="Feed a recording through the live pipeline instead of the microphone."
    ),
    speed: float = typer.Option(
        1.0, "--speed", help="With --file: 1 = real time, 2 = twice as fast, 0 = no waiting."
    ),
    list_devices: bool = typer.Option(
        False, "--list-devices", help="List the input devices PyAudio sees and exit."
    ),
    device_index: int | None = typer.Option(
        None, "--device-index", help="Record from this input device (see --list-devices)."
    ),
    log: Path | None = typer.Option(
        None, "--log", help="Write one CSV row per update to this file."
    ),
    # None: the library's ListenOptions default, shown here via show_default (tested to match)
    window: float | None = typer.Option(
        None, "--window", show_default="2", help="Seconds of audio in each prediction."
    ),
    hop: float | None = typer.Option(
        None, "--hop", show_default="0.5", help="Seconds between updates."
    ),
    smoothing: float | None = typer.Option(
        None,
        "--smoothing",
        show_default="0.5",
        help="Weight of the newest update, in (0, 1]; 1 = no smoothing.",
    ),
    min_confidence: float | None = typer.Option(
        None,
        "--min-confidence",
        show_default="0",
        help="Show 'uncertain' when the top smoothed probability is below this (0..1).",
    ),
) -> None:
    """Live emotion from the microphone (or a file played at real-time pace); Ctrl-C stops."""
    from ser_cli.listen.session import run_listen
    from ser_cli.listen.sources import MIC_BLOCK, FileSource, PyAudioSource, list_input_devices
    from ser_cli.listen.stream import ListenOptions
    from ser_cli.render import listen as view

    console = _console()
    if list_devices:
        console.print(view.devices_table(list_input_devices()))
        return
    if file is not None and device_index is not None:
        _fail("--device-index picks a microphone; leave it out when reading --file.", 2)
    if log is not None:
        from ser_cli.outputs import Output, check_outputs

        check_outputs([Output(log, "--log", suffixes=(".csv",))], [file])
    given = {
        "window": window,
        "hop": hop,
        "smoothing": smoothing,
        "min_confidence": min_confidence,
    }
    from ser_cli.errors import SerError

    try:
        options = ListenOptions(**{k: v for k, v in given.items() if v is not None})
    except SerError as exc:  # every check there is about an option's value: a usage error
        _fail(str(exc), 2)
    source = (
        FileSource(file, speed)
        if file is not None
        else PyAudioSource(device_index, block=min(MIC_BLOCK, options.hop))
    )
    try:
        from ser_cli.inference.load import load_predictor

        predictor = load_predictor(model)
        _show_warnings(predictor.warnings)
    except BaseException:
        source.close()
        raise
    labels = predictor.labels
    if console.is_terminal:
        from rich.live import Live

        with Live(
            view.listen_view(None, source.description, labels), console=console, auto_refresh=False
        ) as live:
            summary = run_listen(
                source, predictor, options, log=log,
                on_update=lambda u: live.update(view.listen_view(u, source.description, labels), refresh=True),
            )  # fmt: skip
    else:  # piped or captured: one plain line per update
        summary = run_listen(
            source,
            predictor,
            options,
            log=log,
            on_update=lambda u: console.print(view.update_line(u), soft_wrap=True),
        )
    console.print(view.summary_line(summary), soft_wrap=True)


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt  # unwind as Ctrl-C does: temp files removed, `last` kept


def main() -> None:
    """Console-script entry point."""
    import signal

    # `kill` (SIGTERM) would end Python without running finally blocks, leaving temp files.
    signal.signal(signal.SIGTERM, _terminated)
    app(prog_name="ser")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
