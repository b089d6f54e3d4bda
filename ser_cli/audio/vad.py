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
            import os

            import onnxruntime as ort

            # find_spec locates the package without running its __init__, which imports torch
            spec = importlib.util.find_spec("silero_vad")
            if spec is None or not spec.submodule_search_locations:
                from ser_cli.errors import ModelError

                raise ModelError(
                    "voice activity needs the silero-vad package: pip install silero-vad."
                )
            path = os.path.join(spec.submodule_search_locations[0], "data", SILERO_ONNX)
            opts = ort.SessionOptions()
            opts.inter_op_num_threads = (
                1  # one 576-sample chunk at a time: threads only add overhead
            )
            opts.intra_op_num_threads = 1
            self._model = ort.InferenceSession(
                path, sess_options=opts, providers=["CPUExecutionProvider"]
            )
        return self._model

    def chunk_probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Speech probability of each CHUNK of 16 kHz audio, shape (n // CHUNK,)."""
        session = self._load()
        n = len(samples) // CHUNK
        chunks = np.ascontiguousarray(samples[: n * CHUNK], dtype=np.float32).reshape(n, CHUNK)
        state = np.zeros(STATE_SHAPE, dtype=np.float32)
        context = np.zeros((1, CONTEXT), dtype=np.float32)
        rate = np.array(SAMPLE_RATE, dtype=np.int64)
        probs = np.zeros(n, dtype=np.float32)
        for i, chunk in enumerate(chunks):
            x = np.concatenate([context, chunk[None, :]], axis=1)
            out, state = session.run(None, {"input": x, "state": state, "sr": rate})
            probs[i] = out[0, 0]
            context = x[:, -CONTEXT:]
        return probs
