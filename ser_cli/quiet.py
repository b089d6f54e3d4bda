"""Silence C libraries (PortAudio, ALSA, JACK, libmpg123) that write to file descriptor 2 directly."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

# fd 2 is shared by every thread: the first thread in redirects it, the last one out restores it
# (prepare decodes in worker threads; unbalanced dup2 calls would leave stderr silenced for good).
_lock = threading.Lock()
_depth = 0
_saved: int | None = None


@contextlib.contextmanager
def quiet_c_stderr() -> Iterator[None]:
    """Point fd 2 at /dev/null for the duration; Python-level stderr is unaffected."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            try:
                saved = os.dup(2)
            except OSError:  # no real stderr (embedded interpreters): nothing to silence
                saved = None
            if saved is not None:
                with open(os.devnull, "w") as devnull:
                    os.dup2(devnull.fileno(), 2)
            _saved = saved
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                os.dup2(_saved, 2)
                os.close(_saved)
                _saved = None


def quiet_transformers() -> None:
    """Stop transformers printing weight-loading progress bars and notices to stderr: they
    would land in `ser predict --format json` output captured with 2>&1, and say nothing a
    user can act on. Errors still raise."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
