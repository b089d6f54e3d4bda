"""Make the example clips: short English sentences spoken by eSpeak NG at a few prosody settings.

eSpeak NG comes from the ``espeakng-loader`` wheel (a bundled libespeak-ng and its data), driven
through ctypes, so no system package is needed. The output is deterministic for a given
eSpeak NG version: rerun this script to regenerate every clip.

    python examples/make_clips.py [--out examples]

The clips are synthetic speech, not emotional recordings: they exercise `ser predict` and
`ser listen --file` end to end, not the model's accuracy.
"""

from __future__ import annotations

import argparse
import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE, resample, write_audio

VOICE = b"en-us"  # eSpeak NG voice name
HEADROOM = 0.9  # fixed gain for every clip: loudness differences come from eSpeak's volume
TAIL_SILENCE = 0.15  # seconds of silence kept after speech
MIN_SECONDS, MAX_SECONDS = 1.5, 3.0  # clip length the examples aim for

# espeak_ng API constants (speak_lib.h)
AUDIO_OUTPUT_SYNCHRONOUS = 2  # synthesise inside espeak_Synth, delivering audio to the callback
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE, ESPEAK_VOLUME, ESPEAK_PITCH, ESPEAK_RANGE = 1, 2, 3, 4  # espeak_PARAMETER values
POS_CHARACTER = 1  # espeak_POSITION_TYPE


@dataclass(frozen=True)
class Clip:
    """One example: file stem, sentence and eSpeak NG prosody settings."""

    name: str
    text: str
    rate: int  # words per minute (eSpeak default 175)
    pitch: int  # 0-100 base pitch (default 50)
    pitch_range: int  # 0-100 pitch variation (default 50; 0 is monotone)
    volume: int  # 0-200 amplitude (default 100); above ~140 eSpeak clips


CLIPS = (
    Clip("calm_low_slow", "The lake is quiet this evening.", 120, 25, 20, 70),
    Clip("neutral_default", "The meeting starts at nine tomorrow.", 175, 50, 50, 100),
    Clip("excited_high_fast", "We won the final! I can't believe it!", 230, 85, 100, 130),
    Clip("sad_low_monotone", "I miss the old house so much.", 110, 20, 5, 55),
    Clip("angry_loud_fast", "Stop that right now and listen to me!", 215, 55, 80, 140),
)


def _load_espeak():
    """The bundled libespeak-ng, initialised for synchronous synthesis. Returns (lib, rate Hz)."""
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    rate = lib.espeak_Initialize(
        AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0
    )
    if rate <= 0:
        raise RuntimeError("eSpeak NG failed to initialise (data folder missing?)")
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    if lib.espeak_SetVoiceByName(VOICE) != 0:
        raise RuntimeError(f"eSpeak NG has no voice {VOICE.decode()}")
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
    ]  # fmt: skip
    return lib, rate


# int callback(short *wav, int numsamples, espeak_EVENT *events): 0 continues synthesis
SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


def synthesise(lib, native_rate: int, clip: Clip) -> np.ndarray:
    """Speak ``clip.text`` with its prosody. Returns float32 samples (n,) at SAMPLE_RATE."""
    chunks: list[np.ndarray] = []

    def collect(wav, count, _events):
        if count > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    callback = SYNTH_CALLBACK(collect)  # kept referenced until synthesis returns
    lib.espeak_SetSynthCallback(callback)
    for param, value in (
        (ESPEAK_RATE, clip.rate),
        (ESPEAK_PITCH, clip.pitch),
        (ESPEAK_RANGE, clip.pitch_range),
        (ESPEAK_VOLUME, clip.volume),
    ):
        lib.espeak_SetParameter(param, value, 0)
    text = clip.text.encode("utf-8") + b"\0"
    lib.espeak_Synth(text, len(text), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
    lib.espeak_Synchronize()
    samples = np.concatenate(chunks).astype(np.float32) / 32768.0
    samples = resample(samples, native_rate, SAMPLE_RATE)
    samples = _trim(samples) * HEADROOM
    peak = float(np.abs(samples).max())
    if peak >= 1.0:
        raise RuntimeError(f"{clip.name} clips (peak {peak:.2f}); lower its volume")
    return samples


def _trim(samples: np.ndarray) -> np.ndarray:
    """Drop the synthesiser's trailing silence beyond TAIL_SILENCE."""
    loud = np.flatnonzero(np.abs(samples) > 1e-3)
    end = (
        min(len(samples), int(loud[-1]) + int(TAIL_SILENCE * SAMPLE_RATE))
        if loud.size
        else len(samples)
    )
    return samples[:end]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="output folder")
    args = parser.parse_args()
    lib, native_rate = _load_espeak()
    for clip in CLIPS:
        samples = synthesise(lib, native_rate, clip)
        seconds = len(samples) / SAMPLE_RATE
        if not MIN_SECONDS <= seconds <= MAX_SECONDS:
            print(f"note: {clip.name} is {seconds:.2f} s (aim {MIN_SECONDS}-{MAX_SECONDS} s)")
        path = write_audio(
            args.out / f"{clip.name}.wav", samples
        )  # 16-bit PCM: soundfile's WAV default
        print(f"{path}  {seconds:.2f} s")
    lib.espeak_Terminate()


if __name__ == "__main__":
    main()
