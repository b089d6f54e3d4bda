"""resemblyzer's voice embedding without torch, for exported ONNX models.

It reproduces :func:`ser_cli.features.voice.voice_embedding` (resemblyzer's ``preprocess_wav``
then ``embed_utterance``) around an encoder run elsewhere (the speaker encoder inside an
exported file, in onnxruntime): loudness raised to -30 dBFS, long silences removed with
webrtcvad exactly as resemblyzer's ``trim_long_silences`` does (30 ms windows, a moving
average over 8, gaps dilated by 6 windows), resemblyzer's partial slices (1.6 s windows, 1.3
a second), a slaney-scale, slaney-normalised mel power spectrogram (torchaudio's, which is
librosa's) and the L2-normalised mean of the partial embeddings. resemblyzer itself is not
imported: it imports torch and librosa.

webrtcvad's Python module imports pkg_resources (tens of milliseconds, and a deprecation
warning) only to read its own version; the compiled ``_webrtcvad`` it wraps (every webrtcvad
build ships it) is used directly.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE
from ser_cli.errors import ModelError
from ser_cli.features.numpy_mel import power_spectrum, triangular_filters
from ser_cli.features.voice import (
    MEL_BANDS,
    MEL_HOP,
    MEL_WINDOW,
    MIN_COVERAGE,
    MIN_SAMPLES,
    PARTIAL_RATE,
    VOICE_DIMS,
)

# resemblyzer's hparams
PARTIAL_FRAMES = 160  # mel frames in one partial utterance (1.6 s)
PARTIAL_STEP = round(SAMPLE_RATE / PARTIAL_RATE / MEL_HOP)  # frames between partials' starts (77)
TARGET_DBFS = -30  # loudness a quieter clip is raised to
INT16_MAX = 2**15 - 1
VAD_WINDOW = 480  # samples in one webrtcvad decision (30 ms)
VAD_AVERAGE = 8  # windows in the moving average of the decisions
VAD_MAX_SILENCE = 6  # windows of silence kept on either side of speech
VAD_MODE = 3  # webrtcvad's most aggressive mode

Encoder = Callable[[np.ndarray], np.ndarray]  # (partials, frames, MEL_BANDS) -> (partials, 256)


def append_voice(frames: np.ndarray, samples: np.ndarray, encode: Encoder) -> np.ndarray:
    """(frames, dims) features of ``samples`` -> (frames, dims + VOICE_DIMS): the embedding of
    the whole clip (not only the frames kept by the log-mel's trimming) beside every frame,
    as :func:`ser_cli.features.extract.compute_features` does."""
    from ser_cli.features.extract import with_voice

    return with_voice(frames, voice_embedding_numpy(samples, encode))


def voice_embedding_numpy(samples: np.ndarray, encode: Encoder) -> np.ndarray:
    """One clip -> its (VOICE_DIMS,) float32 embedding (unit length; zeros for a clip without
    sound), as :func:`ser_cli.features.voice.voice_embedding`. ``samples``: (n,) mono 16 kHz;
    ``encode``: the speaker encoder, per-partial embeddings of stacked mel slices."""
    samples = np.asarray(samples, dtype=np.float32)
    if not np.any(samples):
        return np.zeros(VOICE_DIMS, dtype=np.float32)
    wav = trim_long_silences(normalize_volume(samples))
    if len(wav) < MIN_SAMPLES:
        wav = samples
    starts, stop = partial_slices(len(wav))
    wav = np.pad(wav, (0, max(0, stop - len(wav))))
    frames = voice_mel(wav)  # (frames, MEL_BANDS)
    mels = np.stack([frames[s : s + PARTIAL_FRAMES] for s in starts]).astype(np.float32)
    raw = np.asarray(encode(mels), dtype=np.float32).mean(0)
    return (raw / np.linalg.norm(raw)).astype(np.float32)


def normalize_volume(wav: np.ndarray) -> np.ndarray:
    """resemblyzer's ``normalize_volume(wav, -30, increase_only=True)``, operation for
    operation (so float32 audio rounds as it does there)."""
    rms = np.sqrt(np.mean((wav * INT16_MAX) ** 2))
    wave_dbfs = 20 * np.log10(rms / INT16_MAX)
    change = TARGET_DBFS - wave_dbfs
    if change < 0:
        return wav
    return wav * (10 ** (change / 20))


def trim_long_silences(wav: np.ndarray) -> np.ndarray:
    """resemblyzer's ``trim_long_silences``: the audio (cut to whole 30 ms windows) without
    the windows webrtcvad keeps calling silence more than VAD_MAX_SILENCE windows from speech."""
    wav = wav[: len(wav) - (len(wav) % VAD_WINDOW)]
    pcm = np.round(wav * INT16_MAX).astype(np.int16)  # as resemblyzer's struct.pack input
    is_speech = _vad()
    flags = np.array(
        [is_speech(pcm[i : i + VAD_WINDOW].tobytes()) for i in range(0, len(wav), VAD_WINDOW)],
        dtype=float,
    )
    mask = np.round(_moving_average(flags, VAD_AVERAGE)).astype(bool)
    mask = _dilate(mask, VAD_MAX_SILENCE + 1)
    return wav[np.repeat(mask, VAD_WINDOW)]


def _moving_average(array: np.ndarray, width: int) -> np.ndarray:
    """resemblyzer's moving average: centred, zeros beyond the ends, same length."""
    padded = np.concatenate((np.zeros((width - 1) // 2), array, np.zeros(width // 2)))
    total = np.cumsum(padded, dtype=float)
    total[width:] = total[width:] - total[:-width]
    return total[width - 1 :] / width


def _dilate(mask: np.ndarray, width: int) -> np.ndarray:
    """scipy's ``binary_dilation(mask, np.ones(width))`` for odd ``width``: True within
    width // 2 of a True value (scipy costs a third of a second to import)."""
    if mask.size == 0:
        return mask
    reach = width // 2
    counts = np.convolve(mask.astype(np.int64), np.ones(width, dtype=np.int64), mode="full")
    return counts[reach : reach + mask.size] > 0


def _vad() -> Callable[[bytes], bool]:
    """A fresh webrtcvad (it adapts to what it heard: resemblyzer starts one per clip) in mode
    3 at 16 kHz: 16-bit PCM bytes of one window -> is it speech."""
    try:
        # the compiled module webrtcvad.py wraps (every webrtcvad build ships it), without the
        # pkg_resources import webrtcvad.py makes only to read its version
        import _webrtcvad as vad
    except ImportError:
        raise ModelError(
            "this model reads voice features, which need webrtcvad: pip install webrtcvad."
        ) from None
    handle = vad.create()
    vad.init(handle)
    vad.set_mode(handle, VAD_MODE)
    return lambda pcm: bool(vad.process(handle, SAMPLE_RATE, pcm, len(pcm) // 2))


def partial_slices(n_samples: int) -> tuple[list[int], int]:
    """resemblyzer's ``compute_partial_slices(n_samples, 1.3, 0.75)``: the first mel frame of
    each partial (each PARTIAL_FRAMES long), and the samples the audio is zero-padded to."""
    n_frames = int(np.ceil((n_samples + 1) / MEL_HOP))
    step = PARTIAL_STEP
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    last = starts[-1] * MEL_HOP
    coverage = (n_samples - last) / (PARTIAL_FRAMES * MEL_HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts = starts[:-1]
    return starts, (starts[-1] + PARTIAL_FRAMES) * MEL_HOP


@lru_cache(maxsize=1)
def slaney_filterbank() -> np.ndarray:
    """resemblyzer's 40 mel filters, (MEL_WINDOW // 2 + 1, MEL_BANDS): slaney scale (linear
    below 1 kHz, logarithmic above) from 0 Hz to Nyquist, each filter scaled to unit area
    (torchaudio's ``melscale_fbanks(norm='slaney', mel_scale='slaney')``, librosa's default)."""
    top = hz_to_mel_slaney(SAMPLE_RATE / 2)
    points = mel_to_hz_slaney(np.linspace(0.0, top, MEL_BANDS + 2))
    filters = triangular_filters(points, MEL_WINDOW, SAMPLE_RATE)
    return filters * (2.0 / (points[2:] - points[:-2]))


_F_SP = 200.0 / 3  # Hz per mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel_slaney(hz):
    hz = np.asarray(hz, dtype=np.float64)
    return np.where(
        hz >= _MIN_LOG_HZ,
        _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP,
        hz / _F_SP,
    )


def mel_to_hz_slaney(mel):
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(
        mel >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL)), mel * _F_SP
    )


def voice_mel(wav: np.ndarray) -> np.ndarray:
    """resemblyzer's mel power spectrogram: (n,) -> (1 + n // MEL_HOP, MEL_BANDS); 25 ms
    periodic Hann windows every 10 ms, centred with zero padding, power 2."""
    power = power_spectrum(wav, MEL_WINDOW, MEL_WINDOW, MEL_HOP, pad="constant")
    return power @ slaney_filterbank()
