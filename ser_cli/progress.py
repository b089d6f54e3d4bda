"""The progress callback every long-running library function accepts."""

from __future__ import annotations

from collections.abc import Callable

# ``on_progress(done, total, info)``: ``info`` is a short status string (a file name, or
# "epoch 3/40 loss 0.91") that the CLI shows beside its bar (render/progress.py).
Progress = Callable[[int, int, str], None]
