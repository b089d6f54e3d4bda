"""Voice-activity detection with Silero VAD (its model ships inside the silero-vad wheel).

Used to report silence as silence: stretches of a long recording in `ser predict`, and
hops of the live stream in `ser listen`, are classified only when they hold speech.
"""

from __future__ import annotations

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE

SPEECH_THRESHOLD = 0.5  # Silero's per-chunk speech probability that counts as speech
MIN_SPEECH_FRACTION = 0.15  # a segment with less speech than this is reported as silence
CHUNK = 512  # samples per Silero chunk at 16 kHz (32 ms)


class VoiceActivity:
    """Speech probability of audio, chunk by chunk; the model loads on first use."""

    def __init__(self) -> None:
        self._model = None

    def _load(self):
        if self._model is None:
            import warnings

            from silero_vad import load_silero_vad

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._model = load_silero_vad()
        return self._model

    def chunk_probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Speech probability of each CHUNK of 16 kHz audio, shape (n // CHUNK,)."""
        import torch

        model = self._load()
        model.reset_states()
        n = len(samples) // CHUNK
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        chunks = torch.from_numpy(
            np.ascontiguousarray(samples[: n * CHUNK], dtype=np.float32)
        ).reshape(n, CHUNK)
        with torch.no_grad():
            probs = [float(model(chunk, SAMPLE_RATE)) for chunk in chunks]
        return np.asarray(probs, dtype=np.float32)

    def speech_fraction(self, samples: np.ndarray) -> float:
        """Share of the audio's chunks that hold speech (0 for audio shorter than a chunk)."""
        probs = self.chunk_probabilities(samples)
        return float((probs >= SPEECH_THRESHOLD).mean()) if probs.size else 0.0

    def is_speech(self, samples: np.ndarray) -> bool:
        return self.speech_fraction(samples) >= MIN_SPEECH_FRACTION
