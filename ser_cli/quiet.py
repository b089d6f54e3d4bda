"""Silence C libraries (PortAudio, ALSA, JACK) that write to file descriptor 2 directly."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_c_stderr() -> Iterator[None]:
    """Point fd 2 at /dev/null for the duration; Python-level stderr is unaffected."""
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def quiet_transformers() -> None:
    """Stop transformers printing weight-loading progress bars and notices to stderr: they
    would land in `ser predict --format json` output captured with 2>&1, and say nothing a
    user can act on. Errors still raise."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
