"""Streaming emotion recognition: the algorithm behind `ser listen`.

An audio source yields float32 16 kHz mono blocks of any length. :class:`StreamProcessor`
keeps the last ``window`` seconds in a ring buffer and, every ``hop`` seconds of new audio:

1. runs voice-activity detection on the new hop only (cheap, and it is what changed);
2. in speech, computes the window's features, folds the new hop's frames into the speaker's
   running statistics (one stream is one speaker) and classifies the window. A model that
   reads voice features gets the stream's voice embedding beside the window's log-mel
   (:class:`~ser_cli.features.voice_stream.VoiceStream`: the speaker encoder embeds each new
   1.6 s partial of speech once, 1.3 a second, instead of the whole window at every hop);
3. smooths the probabilities exponentially and emits an :class:`Update`.

In silence nothing is classified: the smoothed probabilities decay toward flat with a
half-life of ``silence_half_life`` seconds, so a breath between words barely moves the bars
but an old emotion does not carry over a long pause. :func:`iter_updates` is the generator the
live display and the tests both consume; :func:`run_listen` drives it to the end (or Ctrl-C),
writes the optional CSV log and returns a :class:`ListenSummary`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE
from ser_cli.audio.vad import CHUNK, MIN_SPEECH_FRACTION
from ser_cli.errors import SerError
from ser_cli.features.normalization import RunningStats
from ser_cli.features.voice import VOICE_DIMS
from ser_cli.features.voice_stream import VoiceStream
from ser_cli.inference.calibration import check_min_confidence, confident_label
from ser_cli.inference.options import check_window
from ser_cli.labels import SILENCE
from ser_cli.listen.sources import AudioSource

# Defaults, measured on 2 busy CPU cores (benchmarks/listen_rtf.py): a 0.5 s hop costs ~9 ms
# with the classic model (RTF 0.02) and 15-20 ms with the neural architectures (RTF 0.03-0.04).
# Silero VAD is ~6 ms of that and grows with the hop, so longer hops barely lower the RTF.
WINDOW = 2.0  # seconds classified at each hop: long enough for a phrase's prosody
HOP = 0.5  # seconds between updates: the display feels live, and 4 updates see each sample
SMOOTHING = 0.5  # weight of the newest hop in the exponential average (1 = no smoothing)
SILENCE_HALF_LIFE = 2.0  # seconds of silence that halve the distance to flat probabilities
# torch CPU threads while listening: a hop's work is too small to split, and with a second
# thread a busy machine made the CNN ~50x slower (threads spinning against other processes).
THREADS = 1


@dataclass(frozen=True)
class ListenOptions:
    """How the stream is cut and smoothed."""

    window: float = WINDOW  # seconds of audio classified at each hop
    hop: float = HOP  # seconds of new audio between updates
    smoothing: float = SMOOTHING  # weight of the newest hop's probabilities, in (0, 1]
    silence_half_life: float = SILENCE_HALF_LIFE  # seconds; how fast silence flattens the bars
    adapt: bool = True  # adapt to the speaker when the model was trained with speaker stats
    threads: int = THREADS  # torch CPU threads, set for the whole process; 0 leaves them as is
    min_confidence: float = 0.0  # below this top smoothed probability the label is UNCERTAIN

    def __post_init__(self) -> None:
        check_window(self.window, self.hop)  # as `ser predict` checks them
        if self.hop > self.window:
            raise SerError(f"--hop ({self.hop:g} s) must not exceed --window ({self.window:g} s).")
        if not 0 < self.smoothing <= 1:
            raise SerError(
                "--smoothing must be in (0, 1]: the weight of the newest hop (1 = none)."
            )
        if self.threads < 0:
            raise SerError("the number of torch threads must be 0 (leave as is) or more.")
        if self.silence_half_life <= 0:
            raise SerError("the silence half-life must be a positive number of seconds.")
        check_min_confidence(self.min_confidence)


@dataclass(frozen=True)
class Update:
    """What one hop produced."""

    time: float  # seconds of stream audio up to the end of this hop
    hop: float  # seconds of new audio in this hop
    is_speech: bool
    speech_fraction: float  # share of the hop's VAD chunks that hold speech
    # (classes,) the model's output for the window; None in silence (nothing was classified)
    probabilities: np.ndarray | None
    smoothed: np.ndarray  # (classes,) exponentially smoothed probabilities
    label: str  # the top smoothed label, or SILENCE
    seconds: float  # wall-clock processing time of this hop (VAD + features + model)
    labels: tuple[str, ...]
    adapted: bool = False  # normalised by this speaker's running statistics

    @property
    def rtf(self) -> float:
        """Real-time factor: processing time / audio duration (below 1 keeps up)."""
        return self.seconds / self.hop if self.hop else 0.0


def smooth(previous: np.ndarray | None, probs: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential smoothing: alpha * probs + (1 - alpha) * previous; probs when no previous."""
    if previous is None:
        return probs.astype(np.float32, copy=True)
    return (alpha * probs + (1.0 - alpha) * previous).astype(np.float32)


def decay_to_flat(previous: np.ndarray, seconds: float, half_life: float) -> np.ndarray:
    """Move probabilities toward uniform: the distance halves every ``half_life`` seconds."""
    keep = 0.5 ** (seconds / half_life)
    flat = np.full_like(previous, 1.0 / previous.size)
    return (keep * previous + (1.0 - keep) * flat).astype(np.float32)


def limit_blas_threads(threads: int) -> None:
    """numpy's BLAS (OpenBLAS, MKL) on ``threads`` threads for the rest of the process, as
    torch's. Its idle threads spin between the small matrix products of a hop (the numpy
    mel of a voice partial, an .onnx model's numpy log-mel): on a busy 2-core machine they
    doubled a voice model's torch hop and made an .onnx model's log-mel 15x slower."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


class StreamProcessor:
    """Turns pushed audio blocks into one :class:`Update` per hop; see the module docstring."""

    def __init__(self, predictor, options: ListenOptions | None = None):
        self.predictor = predictor
        self.options = options or ListenOptions()
        self.labels: tuple[str, ...] = tuple(predictor.labels)
        self.window_samples = int(round(self.options.window * SAMPLE_RATE))
        self.hop_samples = int(round(self.options.hop * SAMPLE_RATE))
        self.buffer = np.zeros(self.window_samples, dtype=np.float32)  # newest audio last
        self.filled = 0  # valid samples at the end of the buffer
        self.consumed = 0  # samples processed since the start
        self._pending: list[np.ndarray] = []
        self._pending_samples = 0
        self.smoothed: np.ndarray | None = None
        encoder = predictor.voice_encoder
        self.voice = VoiceStream(encoder) if encoder is not None else None
        adapt = self.options.adapt and predictor.uses_speaker_stats()
        voice_dims = VOICE_DIMS if self.voice is not None else 0
        self.speaker = RunningStats(predictor.global_stats, clip_dims=voice_dims) if adapt else None

    def warm_up(self) -> None:
        """Load the VAD, set the torch threads, and run the model once on silence, so the first
        hop is as fast as the rest (loading Silero and torch's first call take ~0.2 s)."""
        quiet = np.zeros(self.hop_samples, dtype=np.float32)
        self.predictor.vad.speech_fraction(quiet)  # first: importing silero_vad sets 1 thread
        if self.options.threads:  # torch's threads, or onnxruntime's for an .onnx model
            self.predictor.set_threads(self.options.threads)
            limit_blas_threads(self.options.threads)
        if self.voice is not None:
            self.voice.warm_up()
            feats = self.predictor.features(quiet, voice=np.zeros(VOICE_DIMS, np.float32))
        else:
            feats = self.predictor.features(quiet)
        self.predictor.predict_batch([feats])

    def push(self, block: np.ndarray) -> list[Update]:
        """Add audio (n,) float32 at SAMPLE_RATE; returns the updates of every completed hop."""
        if block.size:
            self._pending.append(np.asarray(block, dtype=np.float32).reshape(-1))
            self._pending_samples += block.size
        updates = []
        while self._pending_samples >= self.hop_samples:
            audio = np.concatenate(self._pending)
            hop, rest = audio[: self.hop_samples], audio[self.hop_samples :]
            self._pending = [rest] if rest.size else []
            self._pending_samples = rest.size
            updates.append(self._process(hop))
        return updates

    def flush(self) -> list[Update]:
        """At the end of a stream: a last, shorter hop when at least half a hop is left."""
        if self._pending_samples * 2 < self.hop_samples:
            return []
        audio = np.concatenate(self._pending)
        self._pending, self._pending_samples = [], 0
        return [self._process(audio)]

    def _process(self, hop: np.ndarray) -> Update:
        started = time.perf_counter()
        n = hop.size
        if n >= self.window_samples:
            self.buffer[:] = hop[-self.window_samples :]
        else:
            self.buffer[:-n] = self.buffer[n:]
            self.buffer[-n:] = hop
        self.filled = min(self.window_samples, self.filled + n)
        self.consumed += n
        seconds = n / SAMPLE_RATE
        window = self.buffer[-self.filled :]

        # VAD on the new audio only, in whole chunks reaching back just far enough to cover it.
        vad_len = min(self.filled, math.ceil(n / CHUNK) * CHUNK)
        fraction = self.predictor.vad.speech_fraction(window[-vad_len:])
        is_speech = fraction >= MIN_SPEECH_FRACTION
        probs = None
        if is_speech:
            if self.voice is not None:
                self.voice.add(hop)
                feats = self.predictor.features(window, voice=self.voice.embedding)
            else:
                feats = self.predictor.features(window)
            stats = None
            if self.speaker is not None:
                # Only the newest hop's share of the frames: overlapping windows would
                # otherwise count every frame window/hop times.
                new = max(1, int(round(feats.shape[-2] * n / window.size)))
                self.speaker.update(feats[..., -new:, :])
                stats = self.speaker.current()
            probs = np.asarray(self.predictor.predict_batch([feats], [stats])[0], dtype=np.float32)
            self.smoothed = smooth(self.smoothed, probs, self.options.smoothing)
            label = confident_label(self.labels, self.smoothed, self.options.min_confidence)
        else:
            if self.smoothed is not None:
                self.smoothed = decay_to_flat(
                    self.smoothed, seconds, self.options.silence_half_life
                )
            label = SILENCE
        smoothed = (
            self.smoothed
            if self.smoothed is not None
            else np.full(len(self.labels), 1.0 / len(self.labels), np.float32)
        )
        adapted = self.speaker is not None and self.speaker.current() is not self.speaker.prior
        return Update(
            time=self.consumed / SAMPLE_RATE,
            hop=seconds,
            is_speech=is_speech,
            speech_fraction=fraction,
            probabilities=probs,
            smoothed=smoothed.copy(),
            label=label,
            seconds=time.perf_counter() - started,
            labels=self.labels,
            adapted=adapted,
        )


def iter_updates(
    source: AudioSource, predictor, options: ListenOptions | None = None
) -> Iterator[Update]:
    """One Update per hop of ``source``, until it ends; the source is closed on exit
    (end, error, Ctrl-C, or the consumer closing the generator)."""
    processor = StreamProcessor(predictor, options)
    processor.warm_up()
    try:
        for block in source:
            yield from processor.push(block)
        yield from processor.flush()
    finally:
        source.close()
