"""Audio in one place: read any libsndfile format at any rate into 16 kHz mono float32.

Every command reads audio through :func:`load_audio` (whole clips) or :func:`read_window`
(a stretch of a long recording, read without loading the rest), so validation and
resampling behave the same in prepare, train, predict and listen. All resampling goes through
soxr (:func:`resample` for whole arrays, :func:`stream_resampler` for a live stream): fast and
band-limited at any pair of rates, including odd ones such as 24,414 Hz.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_cli.errors import AudioError, short_reason

SAMPLE_RATE = 16_000  # Hz: every model in ser works at this rate
MIN_DURATION = 0.25  # seconds: shorter clips carry too little prosody to classify
SILENCE_PEAK = 1e-4  # absolute peak below which a clip counts as all-silent (about -80 dBFS)
MIN_SAMPLE_RATE = 4_000  # Hz: below this a file holds no usable speech band (telephone is 8 kHz)
RESAMPLE_QUALITY = "HQ"  # soxr's high quality: flat to 0.95 of Nyquist, well past speech

# Suffixes ser looks for when it walks a folder (any format libsndfile reads).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".opus")


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header without decoding the samples."""

    path: Path
    sample_rate: int  # Hz, as stored
    channels: int
    frames: int  # samples per channel, as stored
    format: str  # libsndfile's format name, e.g. "WAV", "FLAC"

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def audio_info(path: str | Path) -> AudioInfo:
    """Read a file's header. Raises AudioError for missing, unreadable or empty files."""
    import soundfile as sf

    path = Path(path)
    _check_readable(path)
    try:
        with _quiet_decoder(path):
            info = sf.info(str(path))
    except Exception:  # libsndfile raises several types, with misleading texts, for foreign files
        raise AudioError(
            f"{path}: not a readable audio file (unknown format or corrupt data); "
            "convert it to WAV or FLAC."
        ) from None
    frames = int(info.frames)
    # MP3 and some OGG headers report no frame count; fall back to decoding later.
    if frames <= 0 and info.format not in ("MPEG", "OGG"):
        raise AudioError(f"{path}: the file holds no audio (zero length).")
    if info.samplerate < MIN_SAMPLE_RATE:
        raise AudioError(
            f"{path}: sample rate {info.samplerate} Hz is too low for speech (ser needs at "
            f"least {MIN_SAMPLE_RATE} Hz; it works at {SAMPLE_RATE} Hz); re-export the audio."
        )
    return AudioInfo(path, int(info.samplerate), int(info.channels), frames, str(info.format))


def _check_readable(path: Path) -> None:
    """Missing, a broken link, a folder, a FIFO or device, or no permission: say which."""
    import os
    import stat

    if not path.exists():
        if path.is_symlink():
            raise AudioError(
                f"{path}: broken symbolic link (its target {os.readlink(path)} is missing)."
            )
        raise AudioError(f"{path}: file not found; check the path.")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file.")
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):  # reading a FIFO would block until something writes to it
        raise AudioError(
            f"{path}: not a regular file (a pipe, socket or device); save the audio to a file first."
        )
    if info.st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes).")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise AudioError(f"{path}: permission denied; make the file readable (chmod +r).") from None
    except OSError as exc:
        raise AudioError(f"{path}: cannot open the file ({exc.strerror or exc}).") from None


def _quiet_decoder(path: Path):
    """libmpg123 prints its own complaints about bad MP3 data straight to stderr: hide them."""
    import contextlib

    from ser_cli.quiet import quiet_c_stderr

    return quiet_c_stderr() if path.suffix.lower() == ".mp3" else contextlib.nullcontext()


def load_audio(
    path: str | Path,
    *,
    min_duration: float = MIN_DURATION,
    check_silence: bool = True,
) -> np.ndarray:
    """Load a whole file as 16 kHz mono float32, validated.

    Returns:
        samples: shape (n,), float32 in [-1, 1], at SAMPLE_RATE.
    """
    info = audio_info(path)
    samples = _read(info, 0, None)
    return _finish(info, samples, min_duration=min_duration, check_silence=check_silence)


def read_window(path: str | Path, start: float, duration: float) -> np.ndarray:
    """Read ``duration`` seconds from ``start`` seconds of a file, seeking, not loading it all.

    Returns:
        samples: shape (n,), float32 at SAMPLE_RATE; shorter than asked at the end of the file.
    """
    info = audio_info(path)
    first = max(0, int(round(start * info.sample_rate)))
    count = max(0, int(round(duration * info.sample_rate)))
    samples = _read(info, first, first + count)
    return _finish(info, samples, min_duration=0.0, check_silence=False)


def resample(samples: np.ndarray, orig_rate: int, new_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono float32 audio (n,) -> (round(n * new_rate / orig_rate),) with soxr.

    soxr's cost does not depend on how "odd" the rate ratio is (torchaudio's sinc kernel grows
    with the ratio's reduced form: seconds and gigabytes for 24,414 Hz -> 16 kHz).
    """
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if orig_rate == new_rate or samples.size == 0:
        return samples
    import soxr

    return soxr.resample(samples, orig_rate, new_rate, quality=RESAMPLE_QUALITY)


def stream_resampler(orig_rate: int, new_rate: int = SAMPLE_RATE):
    """A soxr stream resampler for mono float32 blocks: ``.resample_chunk(block)`` keeps the
    filter state between blocks, so a live stream has no clicks at block boundaries."""
    import soxr

    return soxr.ResampleStream(orig_rate, new_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames, channels) array into shape (frames,)."""
    if samples.ndim == 2:
        return samples.mean(axis=1, dtype=np.float32)
    return samples


def write_audio(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write float audio to any libsndfile format chosen by the suffix (used by tests and examples)."""
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, sample_rate)
    return path


def _read(info: AudioInfo, start: int, stop: int | None) -> np.ndarray:
    import soundfile as sf

    try:
        with _quiet_decoder(info.path):
            data, _ = sf.read(
                str(info.path), start=start, stop=stop, dtype="float32", always_2d=True
            )
    except Exception as exc:
        raise AudioError(
            f"{info.path}: could not decode the audio ({short_reason(exc)}); the file may be corrupt."
        ) from None
    return data


def _finish(
    info: AudioInfo, data: np.ndarray, *, min_duration: float, check_silence: bool
) -> np.ndarray:
    path = info.path
    if data.size == 0 and min_duration > 0:
        raise AudioError(f"{path}: the file holds no audio (zero length).")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: the audio contains NaN or infinite samples; re-export it.")
    mono = resample(to_mono(data), info.sample_rate)
    duration = len(mono) / SAMPLE_RATE
    if min_duration > 0 and duration < min_duration:
        raise AudioError(
            f"{path}: too short ({duration:.3f} s); clips need at least {min_duration:g} s of audio."
        )
    if check_silence and is_silent(mono):
        raise AudioError(
            f"{path}: the audio is silent (peak below {SILENCE_PEAK:g}); nothing to classify."
        )
    return np.ascontiguousarray(mono, dtype=np.float32)


def is_silent(samples: np.ndarray) -> bool:
    """Whether audio is empty or all-silent (peak below SILENCE_PEAK): nothing to classify."""
    return samples.size == 0 or float(np.max(np.abs(samples))) < SILENCE_PEAK
