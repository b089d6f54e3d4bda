"""A listening session: drive the stream to its end (or Ctrl-C), keep totals, write the CSV log."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ser_cli.errors import SerError
from ser_cli.labels import SILENCE
from ser_cli.listen.sources import AudioSource
from ser_cli.listen.stream import ListenOptions, Update, iter_updates


@dataclass
class ListenSummary:
    """Totals of a listening session, built one update at a time."""

    labels: tuple[str, ...]
    hops: int = 0
    speech_hops: int = 0
    audio_seconds: float = 0.0  # stream audio processed
    processing_seconds: float = 0.0  # total wall-clock processing time
    max_rtf: float = 0.0  # worst hop
    interrupted: bool = False  # stopped by Ctrl-C
    label_counts: dict[str, int] = field(
        default_factory=dict
    )  # top label per hop, silence included
    _prob_sum: np.ndarray | None = None  # raw probabilities summed over speech hops

    def add(self, update: Update) -> None:
        self.hops += 1
        self.audio_seconds = update.time
        self.processing_seconds += update.seconds
        self.max_rtf = max(self.max_rtf, update.rtf)
        self.label_counts[update.label] = self.label_counts.get(update.label, 0) + 1
        if update.is_speech and update.probabilities is not None:
            self.speech_hops += 1
            self._prob_sum = (
                update.probabilities.copy()
                if self._prob_sum is None
                else self._prob_sum + update.probabilities
            )

    @property
    def mean_rtf(self) -> float:
        """Total processing time / audio processed."""
        return self.processing_seconds / self.audio_seconds if self.audio_seconds else 0.0

    @property
    def mean_probabilities(self) -> dict[str, float] | None:
        """Mean model output over speech hops; None when nothing was said."""
        if self._prob_sum is None:
            return None
        mean = self._prob_sum / self.speech_hops
        return {label: float(p) for label, p in zip(self.labels, mean, strict=True)}

    @property
    def label(self) -> str:
        """The top label of the mean speech probabilities, or SILENCE."""
        mean = self.mean_probabilities
        return max(mean, key=mean.get) if mean else SILENCE


class CsvLog:
    """One row per update: time_s, is_speech, label, then each label's smoothed probability
    (left empty on a silent hop: nothing was classified).

    Rows go to a temporary file beside ``path`` (flushed as written), renamed over ``path`` when
    the session ends or is stopped with Ctrl-C: an existing log is never truncated before audio
    is read, and a session that fails leaves it as it was.
    """

    def __init__(self, path: str | Path, labels: tuple[str, ...]):
        import os
        import tempfile

        from ser_cli.atomic import remove_stale_temps

        self.path = Path(path)
        if self.path.is_dir():
            raise SerError(f"cannot write the log {self.path}: it is a folder; give a file name.")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(self.path.parent)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{self.path.name}.{os.getpid()}.", suffix=".tmp", dir=self.path.parent
            )
            self._tmp = Path(tmp)
            self._fh = os.fdopen(fd, "w", newline="", encoding="utf-8")
        except OSError as exc:
            raise SerError(f"cannot write the log {self.path}: {exc.strerror or exc}.") from None
        self.rows = 0
        self._writer = csv.writer(self._fh)
        self._writer.writerow(["time_s", "is_speech", "label", *labels])
        self._fh.flush()

    def write(self, update: Update) -> None:
        self._writer.writerow(
            [
                f"{update.time:.3f}",
                int(update.is_speech),
                update.label,
                *(f"{p:.4f}" if update.is_speech else "" for p in update.smoothed),
            ]
        )
        self._fh.flush()
        self.rows += 1

    def close(self, commit: bool = True) -> None:
        """Finish the log: rename it into place (``commit``), or discard it. Safe to call twice."""
        import os

        if self._fh.closed:
            return
        self._fh.close()
        if commit:
            from ser_cli.atomic import user_mode

            os.chmod(self._tmp, user_mode())  # mkstemp made it private; a log is an ordinary file
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)


def run_listen(
    source: AudioSource,
    predictor,
    options: ListenOptions | None = None,
    *,
    on_update: Callable[[Update], None] | None = None,
    log: str | Path | None = None,
) -> ListenSummary:
    """Process ``source`` until it ends or Ctrl-C; call ``on_update`` after every hop.

    Ctrl-C is the normal way to stop a microphone: it closes the stream and returns the
    summary (``interrupted=True``) instead of raising.
    """
    summary = ListenSummary(tuple(predictor.labels))
    writer = CsvLog(log, summary.labels) if log is not None else None
    updates = iter_updates(source, predictor, options)
    completed = False
    try:
        for update in updates:
            summary.add(update)
            if writer is not None:
                writer.write(update)
            if on_update is not None:
                on_update(update)
        completed = True
    except KeyboardInterrupt:
        summary.interrupted = completed = True
    finally:
        updates.close()  # runs iter_updates' finally: the source is closed
        source.close()  # also when the generator never started
        if writer is not None:
            # A failed session keeps an existing log; with none there, its rows are kept.
            writer.close(commit=completed or (writer.rows > 0 and not writer.path.exists()))
    return summary
