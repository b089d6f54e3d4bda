"""Write files so a crash never leaves a half-written one behind.

Temporary files are named ``.<target name>.<pid>.<random>.tmp`` beside their target, so a run
killed outright (SIGKILL, power loss) leaves a file the next run can recognise as stale (its
process is gone) and remove with :func:`remove_stale_temps`. Output paths are checked up front
with :func:`check_output_dir` / :func:`check_output_file`, before minutes of work.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ser_cli.errors import OutputError

_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp$")  # .<name>.<pid>.<random>.tmp


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    The temporary file is flushed to disk (fsync) and given the user's umask permissions
    before the rename. On any exception, a full disk included, the temporary file is removed
    and ``target`` is left as it was; an OSError becomes one OutputError line.
    """
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"{target}: is a folder; cannot write a file there.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise OutputError(f"{target}: cannot write here ({exc.strerror or exc}).") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
            # after the writer: some (safetensors) re-create the file with mode 0600
            os.chmod(tmp_path, user_mode())
            _fsync(tmp_path)
            os.replace(tmp_path, target)
        except OSError as exc:  # ENOSPC, EDQUOT, EIO...: the old file is still there
            raise OutputError(
                f"{target}: could not be written ({exc.strerror or exc}); "
                f"{'the old file is kept' if target.exists() else 'nothing was written'}."
            ) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _fsync(path: Path) -> None:
    """Flush ``path``'s data to the disk, so a power loss after the rename keeps it whole."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def user_mode() -> int:
    """The permissions a new file gets from the user's umask (0o644 under umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``target``."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_json(target: str | os.PathLike, data) -> Path:
    """Atomically write ``data`` as indented JSON."""
    import json

    return write_text(target, json.dumps(data, indent=2, sort_keys=False) + "\n")


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete temporary files in ``folder`` left by writers that no longer run; return them."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.glob(".*.tmp"):
        match = _TEMP_NAME.match(path.name)
        if match is None or int(match.group(1)) == os.getpid() or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's live process (or an odd pid): leave its file alone
    return True


def check_output_dir(path: str | os.PathLike, option: str) -> Path:
    """Fail now, in one line, unless ``path`` is (or can be created as) a writable folder."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: {option} is a file; give a folder (new or existing).")
    return _check_creatable(path, path, option)


def check_output_file(path: str | os.PathLike, option: str) -> Path:
    """Fail now, in one line, unless a file can be written (atomically) at ``path``."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise OutputError(f"{path}: {option} is a folder; give a file name inside it.")
    if path.exists() and not path.is_file():
        raise OutputError(f"{path}: {option} is not a regular file; give a file name.")
    return _check_creatable(path, path.parent, option)


def _check_creatable(path: Path, folder: Path, option: str) -> Path:
    """``path`` once ``folder`` (which may not exist yet) can be created and written in."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise OutputError(
            f"{path}: {option} cannot be created: {existing} is a file, not a folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(
            f"{path}: {option} is not writable (no permission to write in {existing})."
        )
    return path


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
