"""Voice-activity detection with Silero VAD (its model ships inside the silero-vad wheel).

The speech check in front of every prediction: a file, an utterance of a long recording or a
hop of the live stream is classified only when it holds speech. Silero gives a speech
probability per 32 ms chunk; :func:`speech_spans` turns those into stretches of speech the way
Silero's own ``get_speech_timestamps`` does (a chunk at or above SPEECH_THRESHOLD starts
speech, one below SPEECH_THRESHOLD - HYSTERESIS ends it, stretches shorter than MIN_SPEECH
are dropped), and :func:`file_speech_probabilities` reads a recording block by block, so a
long file is never loaded whole.
"""

from __future__ import annotations

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE

# Silero's per-chunk speech probability that starts a stretch of speech. Silero's own default
# is 0.5, which calls strong-intensity and sad speech silence; 0.3 lets through no more of the
# non-speech recordings of `python benchmarks/vad_misses.py` than 0.4 or 0.35 while it calls the
# fewest clips silence, and finds more utterances in long recordings (docs/accuracy.md,
# docs/long-recordings.md).
SPEECH_THRESHOLD = 0.3
MIN_SPEECH_FRACTION = 0.15  # a segment with less speech than this is reported as silence
CHUNK = 512  # samples per Silero chunk at 16 kHz (32 ms)
CHUNK_SECONDS = CHUNK / SAMPLE_RATE  # 0.032 s
HYSTERESIS = 0.15  # speech ends below the threshold minus this (Silero's own default)
MIN_SPEECH = 0.25  # seconds: shorter stretches above the threshold are clicks, not speech
SPEECH_PAD = 0.03  # seconds added to each side of a stretch of speech (Silero's speech_pad_ms)
FIRST_BLOCK_CHUNKS = 16  # has_speech reads 0.5 s blocks, then half of what it read so far
BLOCK_SECONDS = 60.0  # seconds of a long file read at a time for the speech check


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

    def chunk_probabilities(self, samples: np.ndarray, *, reset: bool = True) -> np.ndarray:
        """Speech probability of each CHUNK of 16 kHz audio, shape (n // CHUNK,).

        ``reset=False`` continues the stream of the previous call (a long file read in blocks
        of whole chunks); otherwise the model starts afresh.
        """
        import torch

        model = self._load()
        if reset:
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

    def has_speech(self, samples: np.ndarray) -> bool:
        """Whether 16 kHz audio holds any speech at all (one stretch of MIN_SPEECH or more):
        the check in front of every clip `ser predict` classifies whole.

        The audio is read in growing blocks (the model's state carried over) and the check
        stops at the first stretch long enough: a stretch found in the first chunks only grows
        with more of them, so the answer is that of the whole clip, most often within its
        first two seconds.
        """
        n = len(samples) // CHUNK
        probs, done = [], 0
        while done < n:
            end = min(n, done + max(FIRST_BLOCK_CHUNKS, done // 2))
            probs.append(
                self.chunk_probabilities(samples[done * CHUNK : end * CHUNK], reset=not done)
            )
            if speech_spans(np.concatenate(probs)):
                return True
            done = end
        return False


def speech_spans(
    probs: np.ndarray, threshold: float = SPEECH_THRESHOLD
) -> list[tuple[float, float]]:
    """Stretches of speech, (start, end) in seconds, from per-chunk speech probabilities.

    Hysteresis as in Silero's ``get_speech_timestamps``: speech starts at a chunk at or above
    ``threshold`` and ends at the first chunk below ``threshold - HYSTERESIS``; stretches
    shorter than MIN_SPEECH are dropped, the rest padded by SPEECH_PAD on each side (never
    past the audio or into the next stretch).
    """
    spans: list[tuple[float, float]] = []
    start = None
    for i, p in enumerate(np.asarray(probs, dtype=np.float32)):
        if start is None and p >= threshold:
            start = i
        elif start is not None and p < threshold - HYSTERESIS:
            spans.append((start, i))
            start = None
    if start is not None:
        spans.append((start, len(probs)))
    total = len(probs) * CHUNK_SECONDS
    out: list[tuple[float, float]] = []
    for a, b in spans:
        begin, end = a * CHUNK_SECONDS, b * CHUNK_SECONDS
        if end - begin < MIN_SPEECH:
            continue
        begin = max(begin - SPEECH_PAD, out[-1][1] if out else 0.0, 0.0)
        out.append((begin, min(end + SPEECH_PAD, total)))
    return out


def file_speech_probabilities(vad: VoiceActivity, path, duration: float) -> np.ndarray:
    """Speech probability of every CHUNK of a recording, read BLOCK_SECONDS at a time (memory
    flat in the file's length). Returns shape (chunks,), one per CHUNK_SECONDS."""
    from ser_cli.audio.io import read_window

    parts, rest, start, first = [], np.zeros(0, dtype=np.float32), 0.0, True
    while start < duration:
        block = np.concatenate([rest, read_window(path, start, BLOCK_SECONDS)])
        whole = len(block) // CHUNK * CHUNK  # chunks never straddle two calls
        if whole:
            parts.append(vad.chunk_probabilities(block[:whole], reset=first))
            first = False
        rest = block[whole:]
        start += BLOCK_SECONDS
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


SILERO_ONNX = "silero_vad.onnx"  # the ONNX export of the same model, in the wheel's data folder
CONTEXT = 64  # samples of the previous chunk Silero prepends to each chunk at 16 kHz
STATE_SHAPE = (2, 1, 128)  # Silero's recurrent state for one stream


class OnnxVoiceActivity(VoiceActivity):
    """The same Silero model run by onnxruntime, so voice activity needs no torch.

    It replicates silero-vad's ``OnnxWrapper`` for one 16 kHz stream: each CHUNK gets the
    last CONTEXT samples of the previous one prepended, and the recurrent state is carried
    from chunk to chunk (reset for every call, as ``reset_states`` does).
    """

    def _load(self):
        if self._model is None:
            import importlib.util

            # find_spec locates the package without running its __init__, which imports torch
            spec = importlib.util.find_spec("silero_vad")
            if spec is None or not spec.submodule_search_locations:
                from ser_cli.errors import ModelError

                raise ModelError(
                    "voice activity needs the silero-vad package: pip install silero-vad."
                )
            from pathlib import Path

            from ser_cli.onnx_session import onnx_session

            path = Path(spec.submodule_search_locations[0]) / "data" / SILERO_ONNX
            # one 576-sample chunk at a time: threads only add overhead
            self._model = onnx_session(path, threads=1)
        return self._model

    def chunk_probabilities(self, samples: np.ndarray, *, reset: bool = True) -> np.ndarray:
        """Speech probability of each CHUNK of 16 kHz audio, shape (n // CHUNK,);
        ``reset=False`` carries the state and context over from the previous call."""
        session = self._load()
        n = len(samples) // CHUNK
        chunks = np.ascontiguousarray(samples[: n * CHUNK], dtype=np.float32).reshape(n, CHUNK)
        if reset or not hasattr(self, "_state"):
            self._state = np.zeros(STATE_SHAPE, dtype=np.float32)
            self._context = np.zeros((1, CONTEXT), dtype=np.float32)
        state, context = self._state, self._context
        rate = np.array(SAMPLE_RATE, dtype=np.int64)
        probs = np.zeros(n, dtype=np.float32)
        for i, chunk in enumerate(chunks):
            x = np.concatenate([context, chunk[None, :]], axis=1)
            out, state = session.run(None, {"input": x, "state": state, "sr": rate})
            probs[i] = out[0, 0]
            context = x[:, -CONTEXT:]
        self._state, self._context = state, context
        return probs
