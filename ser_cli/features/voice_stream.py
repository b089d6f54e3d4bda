"""A live stream's voice embedding, one speaker-encoder partial at a time (``ser listen``).

A clip's voice embedding (:func:`ser_cli.features.voice.voice_embedding`, what a voice model
was trained on) is resemblyzer's: the clip raised to -30 dBFS, its long silences trimmed,
1.6 s partials every 0.77 s through the speaker encoder, their unit-length mean. Recomputing
that for each 0.5 s hop of a 2 s listen window costs one or two encoder partials per hop,
over audio mostly embedded before. :class:`VoiceStream` keeps the embedding of the
stream's recent speech instead and runs the encoder once per stretch of speech:

- Only hops the listen VAD calls speech are added, end to end, onto a tape of speech: the
  pauses between them are left out, as resemblyzer's trimming leaves out a clip's long
  pauses. The hops are not trimmed again with webrtcvad: on the examples/ clips, a fresh
  detector per hop cut up to 40% of the speech away and lowered the agreement with the
  clip's own embedding (below); one detector kept across hops removed almost nothing more.
- Whenever the tape holds a new whole partial (1.6 s, starting 0.77 s after the previous
  one: resemblyzer's slices), that partial alone is embedded: its audio raised to -30 dBFS
  when quieter (resemblyzer normalises a whole clip; here a partial is the unit, so no gain
  changes inside the audio the encoder reads, and each partial is embedded once), its mel,
  one encoder pass.
- The stream's embedding is the unit-length mean of the last STREAM_PARTIALS partials.
- Before the first whole partial, the speech so far is embedded zero-padded to a partial, as
  resemblyzer embeds a clip shorter than 1.6 s: at the first speech, and once more when it
  reaches MIN_COVERAGE of a partial (resemblyzer keeps a padded partial from that coverage).

The encoder runs at most 2 + 1 + (speech seconds - 1.6) / 0.77 times, under 1.3 a second
of speech plus one, and never on silence. On a stream of each examples/ clip repeated four
times, the embedding after the first pass has a cosine of 0.92-0.97 (mean 0.94) with the
clip's voice_embedding; another clip of the same actor has 0.56-0.76. This module is
torch-free: the encoder is any callable from stacked (partials, 160, 40) mel power to
(partials, 256) embeddings (the predictor's ``voice_encoder``).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ser_cli.features.numpy_voice import (
    PARTIAL_FRAMES,
    PARTIAL_STEP,
    Encoder,
    normalize_volume,
    voice_mel,
)
from ser_cli.features.voice import MEL_BANDS, MEL_HOP, MIN_COVERAGE, VOICE_DIMS

PARTIAL_SAMPLES = PARTIAL_FRAMES * MEL_HOP  # 25,600: one partial's audio (1.6 s)
PARTIAL_STRIDE = PARTIAL_STEP * MEL_HOP  # 12,320: one partial's start to the next (0.77 s)
# Partials averaged into the stream's embedding: 2 span 1.6 + 0.77 = 2.4 s of speech, a
# training clip's worth: after resemblyzer's trimming RAVDESS, EmoDB and ASED clips keep a
# median 1.9 s of speech (quartiles 1.5-2.1 s), embedded as 1 or 2 partials (rarely 3).
# More would average over longer than the model ever saw and follow a change of voice slower.
STREAM_PARTIALS = 2


class VoiceStream:
    """The voice embedding of a stream's recent speech; see the module docstring.

    ``add(hop)`` for each hop the VAD calls speech; ``embedding`` is then the stream's
    (VOICE_DIMS,) unit-length embedding (None before any speech). ``encoded`` counts the
    partials run through the encoder.
    """

    def __init__(self, encode: Encoder, partials: int = STREAM_PARTIALS):
        if partials < 1:
            raise ValueError(
                f"a stream's voice embedding averages 1 or more partials, not {partials}"
            )
        self.encode = encode
        self.tape = np.zeros(0, dtype=np.float32)  # speech from the next partial's start on
        self.recent: deque[np.ndarray] = deque(maxlen=partials)  # the newest whole partials
        self.provisional: np.ndarray | None = None  # the padded embedding before any partial
        self.provisional_samples = 0  # speech samples it was made from
        self.encoded = 0

    @property
    def embedding(self) -> np.ndarray | None:
        if not self.recent:
            return self.provisional
        return unit(np.mean(self.recent, axis=0))

    def warm_up(self) -> None:
        """One encoder pass on a silent partial, so that the first speech does not pay for
        loading the encoder (not counted in ``encoded``)."""
        self.encode(np.zeros((1, PARTIAL_FRAMES, MEL_BANDS), dtype=np.float32))

    def add(self, speech: np.ndarray) -> None:
        """A hop of speech, (n,) float32 at 16 kHz: onto the tape, and embed what is due."""
        speech = np.asarray(speech, dtype=np.float32).reshape(-1)
        self.tape = np.concatenate([self.tape, speech])
        if len(self.tape) >= PARTIAL_SAMPLES:
            starts = range(0, len(self.tape) - PARTIAL_SAMPLES + 1, PARTIAL_STRIDE)
            mels = np.stack([partial_mel(self.tape[s : s + PARTIAL_SAMPLES]) for s in starts])
            self.recent.extend(self._encode(mels))
            self.tape = self.tape[len(starts) * PARTIAL_STRIDE :]
            self.provisional = None
        elif not self.recent and (
            self.provisional is None
            or self.provisional_samples < MIN_COVERAGE * PARTIAL_SAMPLES <= len(self.tape)
        ):
            self.provisional_samples = len(self.tape)
            if np.any(self.tape):
                self.provisional = unit(self._encode(partial_mel(self.tape)[None])[0])
            else:  # as voice_embedding embeds a silent clip
                self.provisional = np.zeros(VOICE_DIMS, dtype=np.float32)

    def _encode(self, mels: np.ndarray) -> np.ndarray:
        self.encoded += len(mels)
        return np.asarray(self.encode(mels), dtype=np.float32)


def partial_mel(audio: np.ndarray) -> np.ndarray:
    """One partial's encoder input: up to PARTIAL_SAMPLES of 16 kHz audio raised to -30 dBFS
    when quieter, zero-padded to a whole partial (as resemblyzer pads a short clip), as mel
    power (PARTIAL_FRAMES, MEL_BANDS) float32."""
    audio = np.asarray(audio, dtype=np.float32)[:PARTIAL_SAMPLES]
    if np.any(audio):
        audio = normalize_volume(audio)
    audio = np.pad(audio, (0, PARTIAL_SAMPLES - len(audio)))
    return voice_mel(audio)[:PARTIAL_FRAMES].astype(np.float32)


def unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to unit length, float32."""
    return (vector / np.linalg.norm(vector)).astype(np.float32)
