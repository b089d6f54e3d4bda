"""Streaming emotion recognition: `ser listen` on a microphone, or a file fed at real-time pace.

An audio source yields float32 16 kHz mono blocks of any length. :class:`StreamProcessor`
keeps the last ``window`` seconds in a ring buffer and, every ``hop`` seconds of new audio:

1. runs voice-activity detection on the new hop only (cheap, and it is what changed);
2. in speech, computes the window's features, folds the new hop's frames into the speaker's
   running statistics (one stream is one speaker) and classifies the window;
3. smooths the probabilities exponentially and emits an :class:`Update`.

In silence nothing is classified: the smoothed probabilities decay toward flat with a
half-life of ``silence_half_life`` seconds, so a breath between words barely moves the bars
but an old emotion does not carry over a long pause. :func:`iter_updates` is the generator the
live display and the tests both consume; :func:`run_listen` drives it to the end (or Ctrl-C),
writes the optional CSV log and returns a :class:`ListenSummary`.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from ser_cli.audio import SAMPLE_RATE, audio_info, read_window
from ser_cli.errors import DeviceError, SerError
from ser_cli.labels import SILENCE
from ser_cli.normalization import RunningStats
from ser_cli.vad import CHUNK, MIN_SPEECH_FRACTION

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

MIC_BLOCK = 0.1  # seconds per PyAudio buffer: small, so hops arrive on time
FILE_BLOCK = 0.1  # seconds per block read from a file, the same pace a microphone gives
RESAMPLE_MARGIN = 0.01  # seconds read either side of a file block so resampling has context
INT16_SCALE = 32768.0  # int16 PCM -> float in [-1, 1)

PYAUDIO_MISSING = "PyAudio is not installed: pip install 'ser-cli[mic]' (needs PortAudio: apt-get install portaudio19-dev)"
NO_INPUT_DEVICE = (
    "no audio input device found (headless machine or no microphone?); "
    "see `ser listen --list-devices`, or feed a recording with --file PATH."
)


# --- audio sources ------------------------------------------------------------------------


class AudioSource(Protocol):
    """Yields float32 16 kHz mono blocks (n,) of any length; close() releases the device."""

    description: str  # shown in the display, e.g. "microphone 'USB Mic'"

    def __iter__(self) -> Iterator[np.ndarray]: ...

    def close(self) -> None: ...


class InputDevice(NamedTuple):
    """One PortAudio device that can record."""

    index: int  # pass to --device-index
    name: str
    channels: int  # max input channels
    default_rate: float  # Hz


def _import_pyaudio():
    try:
        import pyaudio
    except (ImportError, OSError):  # OSError: the PortAudio shared library is missing
        raise DeviceError(PYAUDIO_MISSING) from None
    return pyaudio


def _open_portaudio(pyaudio_module):
    """A PyAudio instance, with PortAudio's ALSA/JACK chatter on stderr silenced."""
    from ser_cli.quiet import quiet_c_stderr

    with quiet_c_stderr():
        try:
            return pyaudio_module.PyAudio()
        except OSError as exc:
            raise DeviceError(f"PortAudio failed to start ({exc}); check `ser doctor`.") from None


def _inputs(audio) -> list[InputDevice]:
    devices = []
    for index in range(audio.get_device_count()):
        info = audio.get_device_info_by_index(index)
        if int(info.get("maxInputChannels", 0)) > 0:
            devices.append(
                InputDevice(
                    index,
                    str(info.get("name", f"device {index}")),
                    int(info["maxInputChannels"]),
                    float(info.get("defaultSampleRate", 0.0)),
                )
            )
    return devices


def list_input_devices(pyaudio_module=None) -> list[InputDevice]:
    """Every device that can record. Raises DeviceError when PyAudio is missing."""
    pyaudio_module = pyaudio_module or _import_pyaudio()
    audio = _open_portaudio(pyaudio_module)
    try:
        return _inputs(audio)
    finally:
        audio.terminate()


class PyAudioSource:
    """The microphone, read through PyAudio as 16-bit mono.

    Opens at SAMPLE_RATE; a device that refuses that rate is opened at its own default rate
    and resampled as a stream (soxr), without clicks at block boundaries.

    Args:
        device_index: a PortAudio input device (see :func:`list_input_devices`); None is the
            system default.
        block: seconds per read; keep it no longer than the hop.
        pyaudio_module: the ``pyaudio`` module, or an object shaped like it (tests).
    """

    def __init__(
        self, device_index: int | None = None, *, block: float = MIC_BLOCK, pyaudio_module=None
    ):
        self._pyaudio = pyaudio_module or _import_pyaudio()
        self._audio = _open_portaudio(self._pyaudio)
        self._stream = None
        self._resampler = None
        try:
            info = self._device_info(device_index)
            self.description = f"microphone '{info.name}'"
            self.rate = self._open(info, block)
        except BaseException:
            self.close()
            raise

    def _device_info(self, device_index: int | None) -> InputDevice:
        devices = _inputs(self._audio)
        if not devices:
            raise DeviceError(NO_INPUT_DEVICE)
        if device_index is None:
            try:
                default = int(self._audio.get_default_input_device_info()["index"])
            except (OSError, KeyError):  # PortAudio has devices but no default input
                return devices[0]
            return next((d for d in devices if d.index == default), devices[0])
        for device in devices:
            if device.index == device_index:
                return device
        choices = ", ".join(str(d.index) for d in devices)
        raise DeviceError(
            f"--device-index {device_index} is not an input device; choose one of {choices} (see --list-devices)."
        )

    def _open(self, device: InputDevice, block: float) -> int:
        rates = [SAMPLE_RATE] + (
            [int(device.default_rate)] if int(device.default_rate) not in (0, SAMPLE_RATE) else []
        )
        error = None
        for rate in rates:
            self._frames = max(1, int(round(block * rate)))
            try:
                self._stream = self._audio.open(
                    format=self._pyaudio.paInt16,
                    channels=1,
                    rate=rate,
                    input=True,
                    input_device_index=device.index,
                    frames_per_buffer=self._frames,
                    start=False,  # recording starts when iteration does, not while a model loads
                )
            except (OSError, ValueError) as exc:  # PortAudio: invalid sample rate, device busy
                error = exc
                continue
            if rate != SAMPLE_RATE:
                import soxr

                self._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32")
            return rate
        raise DeviceError(
            f"could not open {self.description} for recording ({error}); "
            "choose another with --device-index (see --list-devices) or use --file."
        )

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._stream is not None:
            self._stream.start_stream()
        while self._stream is not None:
            # exception_on_overflow=False: a slow hop drops audio instead of crashing the loop
            data = self._stream.read(self._frames, exception_on_overflow=False)
            block = np.frombuffer(data, dtype="<i2").astype(np.float32) / INT16_SCALE
            if self._resampler is not None:
                block = self._resampler.resample_chunk(block)
            yield block

    def close(self) -> None:
        """Stop and close the stream and PortAudio; safe to call twice."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop_stream()
            finally:
                stream.close()
        audio, self._audio = self._audio, None
        if audio is not None:
            audio.terminate()


class FileSource:
    """A recording read block by block, paced like a microphone.

    Args:
        path: any file :func:`ser_cli.audio.read_window` reads; resampled to SAMPLE_RATE.
        speed: 1.0 plays in real time, 2.0 twice as fast; 0 (or inf) does not wait at all.
        block: seconds per block.
    """

    def __init__(self, path: str | Path, speed: float = 1.0, *, block: float = FILE_BLOCK):
        if speed < 0 or math.isnan(speed):
            raise SerError("--speed must be 0 (no waiting) or a positive factor (1 = real time).")
        self.path = Path(path)
        self.info = audio_info(self.path)  # AudioError now, not mid-stream
        self.speed = speed
        self.block = block
        self.description = f"file {self.path.name}"
        self._closed = False

    @property
    def paced(self) -> bool:
        return 0 < self.speed < math.inf

    def __iter__(self) -> Iterator[np.ndarray]:
        rate = self.info.sample_rate
        block = max(1, int(round(self.block * rate)))  # frames at the file's own rate
        margin = int(round(RESAMPLE_MARGIN * rate)) if rate != SAMPLE_RATE else 0
        started = time.perf_counter()
        emitted = 0  # samples at SAMPLE_RATE
        position = 0  # frames at the file's rate
        while not self._closed and (position < self.info.frames or self.info.frames <= 0):
            # Read a little either side and drop it, so each block is resampled with context.
            lead = min(margin, position)
            samples = read_window(
                self.path, (position - lead) / rate, (lead + block + margin) / rate
            )
            if margin:
                first = int(round(lead * SAMPLE_RATE / rate))
                samples = samples[first : first + int(round(block * SAMPLE_RATE / rate))]
            if samples.size == 0:
                break
            position += block
            emitted += samples.size
            if self.paced:  # a microphone hands over a block only once it has been spoken
                delay = started + emitted / SAMPLE_RATE / self.speed - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            yield samples

    def close(self) -> None:
        self._closed = True


# --- the pipeline -------------------------------------------------------------------------


@dataclass(frozen=True)
class ListenOptions:
    """How the stream is cut and smoothed."""

    window: float = WINDOW  # seconds of audio classified at each hop
    hop: float = HOP  # seconds of new audio between updates
    smoothing: float = SMOOTHING  # weight of the newest hop's probabilities, in (0, 1]
    silence_half_life: float = SILENCE_HALF_LIFE  # seconds; how fast silence flattens the bars
    adapt: bool = True  # adapt to the speaker when the model was trained with speaker stats
    threads: int = THREADS  # torch CPU threads, set for the whole process; 0 leaves them as is

    def __post_init__(self) -> None:
        if not (self.hop > 0 and self.window > 0):
            raise SerError("--window and --hop must be positive numbers of seconds.")
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
        adapt = self.options.adapt and predictor.uses_speaker_stats()
        self.speaker = RunningStats(predictor.global_stats) if adapt else None

    def warm_up(self) -> None:
        """Load the VAD, set the torch threads, and run the model once on silence, so the first
        hop is as fast as the rest (loading Silero and torch's first call take ~0.2 s)."""
        quiet = np.zeros(self.hop_samples, dtype=np.float32)
        self.predictor.vad.speech_fraction(quiet)  # first: importing silero_vad sets 1 thread
        if self.options.threads:
            import torch

            torch.set_num_threads(self.options.threads)
        self.predictor.predict_features(self.predictor.features(quiet))

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
            feats = self.predictor.features(window)
            stats = None
            if self.speaker is not None:
                # Only the newest hop's share of the frames: overlapping windows would
                # otherwise count every frame window/hop times.
                new = max(1, int(round(feats.shape[-2] * n / window.size)))
                self.speaker.update(feats[..., -new:, :])
                stats = self.speaker.current()
            probs = np.asarray(self.predictor.predict_features(feats, stats), dtype=np.float32)
            self.smoothed = smooth(self.smoothed, probs, self.options.smoothing)
            label = self.labels[int(self.smoothed.argmax())]
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


# --- summary and log ------------------------------------------------------------------------


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
    """One row per update: time_s, is_speech, label, then each label's smoothed probability.

    Each row is flushed as it is written, so the log survives a crash or Ctrl-C.
    """

    def __init__(self, path: str | Path, labels: tuple[str, ...]):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise SerError(f"cannot write the log {self.path}: {exc.strerror or exc}.") from None
        self._writer = csv.writer(self._fh)
        self._writer.writerow(["time_s", "is_speech", "label", *labels])
        self._fh.flush()

    def write(self, update: Update) -> None:
        self._writer.writerow(
            [
                f"{update.time:.3f}",
                int(update.is_speech),
                update.label,
                *(f"{p:.4f}" for p in update.smoothed),
            ]
        )
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


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
    try:
        for update in updates:
            summary.add(update)
            if writer is not None:
                writer.write(update)
            if on_update is not None:
                on_update(update)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        updates.close()  # runs iter_updates' finally: the source is closed
        source.close()  # also when the generator never started
        if writer is not None:
            writer.close()
    return summary
