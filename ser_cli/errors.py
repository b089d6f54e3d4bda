"""Library errors. The CLI turns each into one clear line and a non-zero exit.

Exit codes follow click's convention: 2 when an option's value itself is wrong (a choice that
does not exist, a number out of range, a --set of the wrong type), 1 for every other failure
(a missing or unreadable file, a corrupt checkpoint, an unwritable folder).
"""

from __future__ import annotations

USAGE = 2  # exit code for an invalid option value (click's convention)

REASON_CHARS = 120  # longest quoted reason: one line of a terminal, not a traceback


def short_reason(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none), for quoting
    a third-party error inside one of ours."""
    text = str(exc).strip()
    return text.splitlines()[0][:REASON_CHARS] if text else type(exc).__name__


class SerError(Exception):
    """Base class: the message says what was wrong and what to do.

    ``exit_code`` may be given per error: ``DatasetError(..., exit_code=USAGE)`` for a bad option.
    """

    exit_code = 1

    def __init__(self, *args, exit_code: int | None = None):
        super().__init__(*args)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(SerError):
    """An option's value is invalid on its own, before any file is read."""

    exit_code = USAGE


class AudioError(SerError):
    """An audio file is missing, unreadable or unusable."""


class DatasetError(SerError):
    """A corpus folder or CSV cannot be read as a dataset."""


class ManifestError(SerError):
    """A manifest is missing, malformed, or does not fit the request."""


class ConfigError(SerError):
    """A configuration file or override is invalid."""


class OverrideError(ConfigError):
    """A ``--set key=value`` override names no setting or has the wrong type (a usage error)."""

    exit_code = USAGE


class OutputError(SerError):
    """An output path cannot be written (a folder where a file belongs, no permission...)."""


class ModelError(SerError):
    """A model name, checkpoint or run directory is unknown, corrupt or foreign."""


class DeviceError(SerError):
    """A requested compute or audio device is not available."""
