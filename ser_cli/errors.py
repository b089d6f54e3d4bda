"""Library errors. The CLI turns each into one clear line and a non-zero exit."""

from __future__ import annotations

REASON_CHARS = 120  # longest quoted reason: one line of a terminal, not a traceback


def short_reason(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none), for quoting
    a third-party error inside one of ours."""
    text = str(exc).strip()
    return text.splitlines()[0][:REASON_CHARS] if text else type(exc).__name__


class SerError(Exception):
    """Base class: the message says what was wrong and what to do."""

    exit_code = 1


class AudioError(SerError):
    """An audio file is missing, unreadable or unusable."""


class DatasetError(SerError):
    """A corpus folder or CSV cannot be read as a dataset."""


class ManifestError(SerError):
    """A manifest is missing, malformed, or does not fit the request."""


class ConfigError(SerError):
    """A configuration file or override is invalid."""


class ModelError(SerError):
    """A model name, checkpoint or run directory is unknown, corrupt or foreign."""


class DeviceError(SerError):
    """A requested compute or audio device is not available."""
