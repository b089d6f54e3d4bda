"""A pretrained speaker encoder's view of a clip: resemblyzer's voice embedding.

Resemblyzer (pip package ``resemblyzer``, weights inside its wheel, so it works offline) is a
1.4 M parameter GE2E speaker encoder (3-layer LSTM over 40 mel bands) trained on thousands of
speakers from LibriSpeech and VoxCeleb, in many rooms and channels. Its 256-dimensional
embedding of a clip describes how the voice sounds (pitch range, effort, voice quality) and
carries emotion that transfers across corpora better than log-mel statistics learnt from one
studio (docs/corpora.md measures it). With ``features.voice``, :func:`voice_embedding` is
appended to every frame of a clip's log-mel features (see :mod:`ser_cli.features.extract`).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

VOICE_DIMS = 256  # resemblyzer's embedding size
MIN_SAMPLES = 1600  # 0.1 s at 16 kHz: shorter speech after its trimming uses the clip as is


@functools.lru_cache(maxsize=1)
def _encoder():
    """The encoder, built once per process on the CPU (it is small: a GPU gains nothing)."""
    with warnings.catch_warnings():
        # resemblyzer imports webrtcvad, whose module still imports pkg_resources
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        from resemblyzer import VoiceEncoder, preprocess_wav

    return VoiceEncoder("cpu", verbose=False), preprocess_wav


def voice_embedding(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """One clip -> its (VOICE_DIMS,) float32 embedding (unit length; zeros for a clip too short
    to embed). ``samples``: (n,) float32 mono at ``sample_rate`` (16 kHz in ser).

    Resemblyzer's own preprocessing first: loudness normalised to -30 dBFS and long silences
    removed (webrtcvad); a clip with under 0.1 s of speech left is embedded whole.
    """
    encoder, preprocess = _encoder()
    samples = np.asarray(samples, dtype=np.float32)
    if not np.any(samples):
        return np.zeros(VOICE_DIMS, dtype=np.float32)
    speech = preprocess(samples, source_sr=sample_rate)
    if len(speech) < MIN_SAMPLES:
        speech = samples
    return np.asarray(encoder.embed_utterance(speech), dtype=np.float32)
