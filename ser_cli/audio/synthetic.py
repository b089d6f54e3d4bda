"""Synthetic emotional "speech": short tonal signals whose pitch, loudness and rhythm depend on
the emotion and (a little) on the speaker. Tests and the demo corpus use it so every path can
run without real data; a model that learns it proves the training loop learns.
"""

from __future__ import annotations

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE
from ser_cli.labels import EMOTIONS

# Per-emotion fundamental frequency (Hz), syllable rate (Hz) and level (linear gain):
# far enough apart that a working model separates them in a couple of epochs.
_F0 = np.linspace(110.0, 330.0, len(EMOTIONS))
_RATE = np.array([2.0, 5.0, 3.0, 6.0, 2.5, 7.0, 4.0, 3.5])
_LEVEL = np.array([0.3, 0.5, 0.4, 0.6, 0.35, 0.45, 0.55, 0.5])


def synth_clip(
    emotion: str,
    speaker: int = 0,
    *,
    duration: float = 1.5,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 0,
) -> np.ndarray:
    """One synthetic clip.

    Returns:
        samples: shape (round(duration * sample_rate),), float32 in [-1, 1].
    """
    index = EMOTIONS.index(emotion)
    rng = np.random.default_rng([seed, index, speaker])
    t = np.arange(int(round(duration * sample_rate))) / sample_rate
    f0 = _F0[index] * (1.0 + 0.015 * (speaker % 5 - 2)) * (1.0 + 0.01 * rng.standard_normal())
    phase = 2 * np.pi * f0 * t
    voiced = sum(np.sin(k * phase) / k for k in range(1, 5))
    envelope = 0.5 * (1.0 + np.sin(2 * np.pi * _RATE[index] * t + rng.uniform(0, np.pi)))
    signal = _LEVEL[index] * envelope * voiced / 2.0
    signal += 0.01 * rng.standard_normal(t.shape)
    return np.clip(signal, -1.0, 1.0).astype(np.float32)


NOISES = (
    "white",
    "pink",
    "brown",
    "fan",
    "hum-50",
    "hum-60",
    "buzz-60",
    "tone",
    "chord",
    "sweep",
    "clicks",
    "speech-shaped",
    "speech-shaped-4hz",
)


def noise(kind: str, *, dbfs: float, duration: float = 3.0, seed: int = 0) -> np.ndarray:
    """A non-speech recording the speech check should reject, at an RMS level of ``dbfs``.

    ``kind`` is one of NOISES: white, pink (1/f) and brown (1/f^2) noise, a fan (noise under
    300 Hz), mains hum at 50 or 60 Hz with six harmonics falling as 1/k, a 60 Hz buzz (ten
    harmonics falling as 1/sqrt(k)), a 1 kHz tone, a swelling four-note
    chord, a 300-3,000 Hz sweep, 40 clicks over a faint floor, and noise under a speech-like
    spectrum (100-500 Hz band, falling above), steady or swelling at a syllable rate of 4 Hz.

    Returns:
        samples: shape (round(duration * SAMPLE_RATE),), float32.
    """
    from scipy import signal as sps

    if kind not in NOISES:
        raise ValueError(f"unknown noise {kind!r}; one of {', '.join(NOISES)}")
    rng = np.random.default_rng([seed, NOISES.index(kind)])
    n = int(round(duration * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    nyquist = SAMPLE_RATE / 2

    def colored(exponent: float) -> np.ndarray:
        freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        freqs[0] = freqs[1]
        spectrum = rng.standard_normal(len(freqs)) + 1j * rng.standard_normal(len(freqs))
        return np.fft.irfft(spectrum / freqs ** (exponent / 2), n)

    def hum(f0: float, harmonics: int = 7, fall: float = 1.0) -> np.ndarray:
        return sum(np.sin(2 * np.pi * f0 * k * t) / k**fall for k in range(1, harmonics + 1))

    def speech_shaped() -> np.ndarray:
        b, a = sps.butter(1, [100 / nyquist, 500 / nyquist], "band")
        return sps.lfilter(b, a, rng.standard_normal(n))

    if kind in ("white", "pink", "brown"):
        x = colored({"white": 0.0, "pink": 1.0, "brown": 2.0}[kind])
    elif kind == "fan":
        b, a = sps.butter(4, 300 / nyquist)
        x = sps.lfilter(b, a, rng.standard_normal(n))
    elif kind.startswith("hum"):
        x = hum(float(kind.split("-")[1]))
    elif kind == "buzz-60":
        x = hum(60.0, harmonics=11, fall=0.5)
    elif kind == "tone":
        x = np.sin(2 * np.pi * 1000 * t)
    elif kind == "chord":
        swell = 1 + 0.3 * np.sin(2 * np.pi * 2 * t)
        x = sum(np.sin(2 * np.pi * f * t) * swell for f in (220, 277, 330, 440))
    elif kind == "sweep":
        x = sps.chirp(t, 300, duration, 3000)
    elif kind == "clicks":
        x = np.zeros(n)
        x[rng.integers(0, n, 40)] = 1.0
        x = sps.lfilter([1.0], [1.0, -0.9], x) + 0.01 * rng.standard_normal(n)
    elif kind == "speech-shaped":
        x = speech_shaped()
    else:  # speech-shaped-4hz
        x = speech_shaped() * 0.5 * (1 + np.sin(2 * np.pi * 4 * t))
    return (x / np.sqrt(np.mean(x**2)) * 10 ** (dbfs / 20)).astype(np.float32)
