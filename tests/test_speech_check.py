"""The speech check (`ser predict`, long recordings, `ser listen`): noise, hum, tones and clicks
stay out, and emotional speech Silero's own threshold misses gets in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser_cli.audio.io import load_audio
from ser_cli.audio.synthetic import NOISES, noise
from ser_cli.audio.vad import OnnxVoiceActivity, VoiceActivity, speech_spans

pytestmark = pytest.mark.vad

ASED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ased-16k"
# A sad ASED clip Silero's default threshold calls silence (benchmarks/vad_misses.py's sweep)
SAD_CLIP = ASED / "04Sad" / "s4-01-01-01-03.flac"
SILERO_DEFAULT = 0.5  # silero-vad's own threshold


@pytest.mark.parametrize("vad", [VoiceActivity(), OnnxVoiceActivity()], ids=["torch", "onnx"])
def test_the_check_rejects_noise_hum_tones_and_clicks(vad):
    for kind in NOISES:
        for dbfs in (-45, -30):
            samples = noise(kind, dbfs=dbfs, seed=7)
            assert np.sqrt(np.mean(samples**2)) == pytest.approx(10 ** (dbfs / 20), rel=1e-3)
            assert not vad.has_speech(samples), f"{kind} at {dbfs} dBFS passed the speech check"


def test_noise_kinds_are_distinct_and_unknown_kinds_refused():
    spectra = {
        kind: np.abs(np.fft.rfft(noise(kind, dbfs=-20, duration=1.0)))[:4000] for kind in NOISES
    }
    for a in NOISES:
        for b in NOISES:
            if a < b:
                assert not np.allclose(spectra[a], spectra[b], rtol=0.1), (a, b)
    with pytest.raises(ValueError, match="unknown noise"):
        noise("traffic", dbfs=-20)


@pytest.mark.realdata
@pytest.mark.skipif(not SAD_CLIP.is_file(), reason="../shared/data/ased-16k absent")
def test_sad_speech_silero_default_misses_passes_the_check():
    samples = load_audio(SAD_CLIP)
    for vad in (VoiceActivity(), OnnxVoiceActivity()):
        probs = vad.chunk_probabilities(samples)
        assert not speech_spans(probs, SILERO_DEFAULT)  # silence at Silero's own threshold
        assert speech_spans(probs)
        assert vad.has_speech(samples)
