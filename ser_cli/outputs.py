"""The output guard: every command that writes checks all its outputs here, before any work.

:func:`check_outputs` refuses, in one line, an output that cannot be written (no permission,
a file where a folder is meant or the reverse), one that is one of the command's own inputs
(or a file inside an input model folder), two outputs on one path, an existing file of a kind the
command does not write (a recording, weights) and a folder that already holds a model, a run
or an ensemble, unless the command continues it (``--resume``). :func:`run_lock` keeps a
second process out of a folder while one writes it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ser_cli.atomic import check_output_dir, check_output_file
from ser_cli.errors import OutputError, UsageError

# Files that mark a folder as a model, run, ensemble or cross-validation folder.
MODEL_MARKERS = ("best.json", "last.json", "config.yaml", "cv.json", "best.safetensors")
# Existing files of these kinds are a user's recordings or models: never replaced by an output
# of another kind (`ser listen --log rec.wav`).
OWNED_SUFFIXES = frozenset(
    {".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aiff", ".safetensors", ".onnx", ".pt", ".ckpt"}
)
LOCK_NAME = ".ser.lock"  # in a folder a command is writing; held with flock while it runs


@dataclass(frozen=True)
class Output:
    """One thing a command writes."""

    path: Path
    option: str  # how the user named it, for the error line: "--out", "-o", "--log"
    folder: bool = False  # a folder of outputs (else one file)
    model: bool = False  # the folder receives a model or run: refused where one already is
    suffixes: tuple[str, ...] = ()  # the file kinds this output may replace (e.g. ".onnx")


def check_outputs(
    outputs: Iterable[Output], inputs: Iterable[str | os.PathLike] = (), *, resume: bool = False
) -> list[Path]:
    """Check every output against the disk, the command's ``inputs`` and each other.

    ``resume``: the command continues the model in its output folder, so one is expected.
    Returns the outputs' paths (``~`` expanded). Raises OutputError (or UsageError for two
    outputs on one path) naming the path and the option.
    """
    outputs = [o for o in outputs if o.path is not None]
    given = [Path(p).expanduser() for p in inputs if p is not None]
    sources = {_real(p): p for p in given}
    seen: dict[Path, Output] = {}
    for out in outputs:
        path = Path(out.path).expanduser()
        real = _real(path)
        if real in seen:
            raise UsageError(
                f"{path}: {out.option} and {seen[real].option} name the same path; give each "
                "its own."
            )
        seen[real] = out
        if real in sources and not (out.folder and sources[real].is_dir()):
            raise OutputError(
                f"{path}: {out.option} is one of this command's inputs; writing there would "
                "destroy it. Choose another path."
            )
        if out.folder:
            check_output_dir(path, out.option)
            if out.model:
                _check_not_a_model(path, out.option, resume)
        else:
            check_output_file(path, out.option)
            _check_not_owned(path, out, sources)
    return [Path(o.path).expanduser() for o in outputs]


def model_in(folder: Path) -> str | None:
    """The marker file that shows ``folder`` holds a model or run, or None."""
    for name in MODEL_MARKERS:
        if (folder / name).exists():
            return name
    started = next(iter(sorted(folder.glob("fold*/config.yaml"))), None)  # a `--cv` folder
    return str(started.relative_to(folder)) if started else None


def _check_not_a_model(path: Path, option: str, resume: bool) -> None:
    marker = model_in(path) if path.is_dir() else None
    if marker and not resume:
        raise OutputError(
            f"{path}: {option} already holds a model or run ({marker}); choose a new folder"
            " (or --resume to continue an interrupted run there)."
        )


def _check_not_owned(path: Path, out: Output, sources: dict[Path, Path]) -> None:
    suffix = path.suffix.lower()
    if not path.exists() or suffix in out.suffixes:  # absent, or the command's own kind of file
        return
    real = _real(path)
    inside = [src for r, src in sources.items() if r in real.parents and model_in(r)]
    if inside:
        raise OutputError(
            f"{path}: {out.option} would replace a file of the input {inside[0]}; choose "
            "a path outside it."
        )
    if suffix in OWNED_SUFFIXES:
        raise OutputError(
            f"{path}: {out.option} would replace an existing {suffix} file; choose another name."
        )


def _real(path: Path) -> Path:
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        return path.absolute()


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, *, hold: bool = True) -> Iterator[Path]:
    """Hold ``folder``'s lock while the body writes there; OutputError at once when another
    process holds it. The lock (an flock on LOCK_NAME, removed at the end) ends with the body
    or the process. A folder this created and the body left empty is removed again. ``hold=False``: a no-op (the ranks of
    a torchrun job other than 0, which write nothing)."""
    folder = Path(folder).expanduser()
    if not hold:
        yield folder
        return
    created = not folder.exists()
    lock = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write here ({exc.strerror or exc}).") from None
    try:
        _flock(fd, folder)
    except OutputError:
        os.close(fd)
        raise
    try:
        yield folder
    finally:
        with contextlib.suppress(OSError):  # removed while held: a run folder ends clean
            lock.unlink()
        os.close(fd)
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if the body left it empty


def _flock(fd: int, folder: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the other checks still hold
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OutputError(
            f"{folder}: another ser process is writing this folder; wait for it to end or "
            "choose another --out."
        ) from None
