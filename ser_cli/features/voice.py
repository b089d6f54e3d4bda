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

from ser_cli.audio.io import SAMPLE_RATE
from ser_cli.errors import ConfigError

VOICE_DIMS = 256  # resemblyzer's embedding size
MIN_SAMPLES = 1600  # 0.1 s at 16 kHz: shorter speech after its trimming uses the clip as is


# resemblyzer's mel front end (its hparams): 25 ms windows every 10 ms, 40 bands, power.
MEL_WINDOW = 400  # samples at 16 kHz
MEL_HOP = 160
MEL_BANDS = 40
PARTIAL_RATE = 1.3  # partial embeddings per second, averaged (resemblyzer's default)
MIN_COVERAGE = 0.75  # a last partial covering less of its window is dropped (its default)


@functools.lru_cache(maxsize=1)
def _encoder():
    """The encoder, built once per process on the CPU (it is small: a GPU gains nothing), and
    its mel front end."""
    import torchaudio

    with warnings.catch_warnings():
        # resemblyzer imports webrtcvad, whose module still imports pkg_resources (deprecated,
        # and gone from setuptools 81): said in one line rather than as a traceback
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            raise ConfigError(
                "features.voice needs pkg_resources for resemblyzer's webrtcvad, which setuptools "
                "81 removed; run: pip install 'setuptools<81'"
            ) from None
        from resemblyzer import VoiceEncoder

    # librosa's melspectrogram (slaney scale and norm, centred frames padded with zeros), in
    # torchaudio: the same numbers without librosa's lazy imports, which cost seconds per process
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=MEL_WINDOW, hop_length=MEL_HOP, n_mels=MEL_BANDS,
        norm="slaney", mel_scale="slaney", pad_mode="constant",
    )  # fmt: skip
    return VoiceEncoder("cpu", verbose=False), mel


def voice_embedding(samples: np.ndarray) -> np.ndarray:
    """One clip -> its (VOICE_DIMS,) float32 embedding (unit length; zeros for a clip without
    sound). ``samples``: (n,) float32 mono at 16 kHz.

    As resemblyzer's ``preprocess_wav`` + ``embed_utterance`` (tests/test_voice.py checks the
    two agree): loudness raised to -30 dBFS, long silences removed (webrtcvad), partial
    embeddings of 1.6 s windows averaged; a clip with under 0.1 s of speech left is embedded
    whole.
    """
    import torch
    from resemblyzer import preprocess_wav

    encoder, mel = _encoder()
    samples = np.asarray(samples, dtype=np.float32)
    if not np.any(samples):
        return np.zeros(VOICE_DIMS, dtype=np.float32)
    wav = preprocess_wav(samples)  # no source rate given: ser's audio is already at 16 kHz
    if len(wav) < MIN_SAMPLES:
        wav = samples
    wav_slices, mel_slices = encoder.compute_partial_slices(len(wav), PARTIAL_RATE, MIN_COVERAGE)
    wav = np.pad(wav, (0, max(0, wav_slices[-1].stop - len(wav))))
    with torch.no_grad():
        frames = mel(torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))).T
        partials = encoder(torch.stack([frames[s] for s in mel_slices])).numpy()
    raw = partials.mean(0)
    return (raw / np.linalg.norm(raw)).astype(np.float32)


def encode_partials(mels: np.ndarray) -> np.ndarray:
    """resemblyzer's encoder on stacked partials: (partials, frames, MEL_BANDS) mel power ->
    (partials, VOICE_DIMS) unit-length embeddings (``ser listen`` embeds a stream partial by
    partial, :mod:`ser_cli.features.voice_stream`)."""
    import torch

    encoder, _ = _encoder()
    with torch.no_grad():
        return encoder(torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32))).numpy()
