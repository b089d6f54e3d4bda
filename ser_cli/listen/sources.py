"""Audio sources for `ser listen`: the microphone through PyAudio, or a file fed at a
microphone's pace. Each yields float32 16 kHz mono blocks of any length."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE, audio_info, read_window, stream_resampler
from ser_cli.errors import USAGE, DeviceError, SerError

MIC_BLOCK = 0.1  # seconds per PyAudio buffer: small, so hops arrive on time
FILE_BLOCK = 0.1  # seconds per block read from a file, the same pace a microphone gives
RESAMPLE_MARGIN = 0.01  # seconds read either side of a file block so resampling has context
INT16_SCALE = 32768.0  # int16 PCM -> float in [-1, 1)

PYAUDIO_MISSING = "PyAudio is not installed: pip install 'ser-cli[mic]' (needs PortAudio: apt-get install portaudio19-dev)"
NO_INPUT_DEVICE = (
    "no audio input device found (headless machine or no microphone?); "
    "see `ser listen --list-devices`, or feed a recording with --file PATH."
)


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
                self._resampler = stream_resampler(rate, SAMPLE_RATE)
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
        path: any file :func:`ser_cli.audio.io.read_window` reads; resampled to SAMPLE_RATE.
        speed: 1.0 plays in real time, 2.0 twice as fast; 0 (or inf) does not wait at all.
        block: seconds per block.
    """

    def __init__(self, path: str | Path, speed: float = 1.0, *, block: float = FILE_BLOCK):
        if speed < 0 or math.isnan(speed):
            raise SerError(
                "--speed must be 0 (no waiting) or a positive factor (1 = real time).",
                exit_code=USAGE,
            )
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
