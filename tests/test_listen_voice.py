"""`ser listen` with voice models (features.voice): the stream's voice embedding is built one
speaker-encoder partial at a time (ser_cli/features/voice_stream.py), not recomputed per hop.

The models are small random voice runs (tests/synthetic_runs.py) and their ONNX export (the
fixture of tests/test_onnx_voice.py); the speech is the RAVDESS clips in examples/, streamed
hop by hop through the real pipeline (Silero VAD included). The reference embeddings are
computed here with resemblyzer's own volume normalisation, ser's torch mel front end and
resemblyzer's encoder, not with the streaming module's numpy code.
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import make_run
from test_onnx import PARITY, ser_without_torch
from test_onnx_voice import exported  # noqa: F401 - the module-scoped fixture, shared

from ser_cli.audio.io import SAMPLE_RATE, load_audio, write_audio
from ser_cli.errors import ConfigError, ModelError
from ser_cli.features.normalization import STD_FLOOR, RunningStats, Stats
from ser_cli.features.voice import (
    MEL_BANDS,
    MIN_COVERAGE,
    PARTIAL_RATE,
    VOICE_DIMS,
    voice_embedding,
)
from ser_cli.features.voice_stream import STREAM_PARTIALS
from ser_cli.inference.load import load_predictor
from ser_cli.labels import EMOTIONS
from ser_cli.listen.sources import FileSource
from ser_cli.listen.stream import ListenOptions, StreamProcessor, iter_updates

pytest.importorskip("onnxruntime")

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.wav"))
MALE, FEMALE = EXAMPLES[0], EXAMPLES[6]  # RAVDESS actors 21 and 24
STEADY = EXAMPLES[1]  # actor 22, calm
HOP = int(ListenOptions().hop * SAMPLE_RATE)
PAUSE_SECONDS = 1.5
EMBEDDING_TOLERANCE = 1e-4  # as tests/test_onnx_voice.py: numpy vs torch front ends
# A stream of one clip repeated ends at a cosine of 0.90-0.96 with the clip's own embedding
# (examples/, measured for the module docstring; this clip 0.96); another clip of the same
# actor is at 0.56-0.76, so 0.9 tells the clip's voice from its speaker's.
STEADY_COSINE = 0.9


# --- references, computed without ser_cli.features.voice_stream ---------------------------


def _resemblyzer():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # webrtcvad's pkg_resources deprecation
        import resemblyzer.audio
        import resemblyzer.hparams

    return resemblyzer


def partial_samples() -> int:
    """The audio of one of resemblyzer's partials (1.6 s), from its own settings."""
    hparams = _resemblyzer().hparams
    return hparams.partials_n_frames * hparams.mel_window_step * hparams.sampling_rate // 1000


def reference_partials(pieces: list[np.ndarray]) -> np.ndarray:
    """Each piece (at most 1.6 s) as resemblyzer embeds a clip of one partial: raised to -30
    dBFS, zero-padded to 1.6 s, 160 mel frames, the encoder: (pieces, 256)."""
    import torch

    from ser_cli.features.voice import _encoder

    audio = _resemblyzer().audio
    encoder, mel = _encoder()
    mels = []
    for piece in pieces:
        wav = audio.normalize_volume(piece, -30, increase_only=True)
        wav = np.pad(wav, (0, partial_samples() - len(wav))).astype(np.float32)
        mels.append(mel(torch.from_numpy(wav)).T[:160])
    with torch.no_grad():
        return encoder(torch.stack(mels)).numpy()


def whole_partials(speech: np.ndarray) -> list[slice]:
    """resemblyzer's partial slices of ``speech`` that lie wholly inside it."""
    encoder = _resemblyzer().VoiceEncoder
    slices, _ = encoder.compute_partial_slices(len(speech), PARTIAL_RATE, MIN_COVERAGE)
    return [s for s in slices if s.stop <= len(speech)]


def reference_embeddings(speech_hops: list[np.ndarray]) -> list[np.ndarray]:
    """What the design says the stream's embedding is after each of its speech hops: the unit
    mean of the last STREAM_PARTIALS whole partials of the speech so far (end to end); before
    the first, the speech embedded padded, at the first hop and again on reaching
    MIN_COVERAGE of a partial."""
    speech, padded, out = np.zeros(0, np.float32), None, []
    for hop in speech_hops:
        speech = np.concatenate([speech, hop])
        whole = whole_partials(speech)[-STREAM_PARTIALS:]
        covered = MIN_COVERAGE * partial_samples()
        if not whole and (padded is None or len(padded) < covered <= len(speech)):
            padded = speech
        mean = reference_partials([speech[s] for s in whole] if whole else [padded]).mean(0)
        out.append(mean / np.linalg.norm(mean))
    return out


def pause(seconds: float = PAUSE_SECONDS, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (1e-4 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)


# --- streaming helpers -----------------------------------------------------------------------


@dataclass
class Hop:
    audio: np.ndarray
    is_speech: bool
    embedding: np.ndarray | None  # the stream's voice embedding after this hop
    partials: int  # speaker-encoder partials run during this hop


def count_partials(monkeypatch, predictor) -> list[int]:
    """Partials per call of the predictor's speaker encoder, whichever path calls it: the
    torch encoder module itself (voice_embedding and listen both run it), or the ONNX file's
    encode_partials."""
    calls: list[int] = []
    if type(predictor).__name__ == "OnnxPredictor":
        original = predictor.encode_partials

        def counted(mels):
            calls.append(len(mels))
            return original(mels)

        monkeypatch.setattr(predictor, "encode_partials", counted)
    else:
        from ser_cli.features.voice import _encoder

        encoder = _encoder()[0]
        forward = encoder.forward

        def counted_forward(mels):
            calls.append(len(mels))
            return forward(mels)

        monkeypatch.setattr(encoder, "forward", counted_forward)
    return calls


def stream(predictor, audio: np.ndarray, calls: list[int] | None = None):
    """``audio`` pushed hop by hop through a warmed-up StreamProcessor -> (processor, hops)."""
    processor = StreamProcessor(predictor, ListenOptions())
    processor.warm_up()
    if calls is not None:
        calls.clear()  # the warm-up's pass on silence is not the stream's
    hops = []
    for start in range(0, len(audio) - HOP + 1, HOP):
        before = sum(calls) if calls is not None else 0
        [update] = processor.push(audio[start : start + HOP])
        embedding = processor.voice.embedding if processor.voice is not None else None
        hops.append(
            Hop(
                audio[start : start + HOP],
                update.is_speech,
                None if embedding is None else embedding.copy(),
                (sum(calls) if calls is not None else 0) - before,
            )
        )
    return processor, hops


@pytest.fixture(scope="module")
def voice_run(exported) -> Path:  # noqa: F811 - the imported fixture
    return exported[0]


@pytest.fixture(scope="module")
def voice_onnx(exported) -> Path:  # noqa: F811
    return exported[1]


@pytest.fixture(params=["torch", "onnx"])
def voice_predictor(request, voice_run, voice_onnx):
    return load_predictor(voice_run if request.param == "torch" else voice_onnx)


@pytest.fixture(scope="module")
def speech_with_pauses() -> np.ndarray:
    """Two actors' sentences, each followed by a pause of faint noise (about 11 s)."""
    return np.concatenate([load_audio(MALE), pause(), load_audio(FEMALE), pause(seed=1)])


# --- the encoder's cost ----------------------------------------------------------------------


def test_the_encoder_runs_once_per_new_partial_of_speech_and_never_in_silence(
    monkeypatch, voice_predictor, speech_with_pauses
):
    calls = count_partials(monkeypatch, voice_predictor)
    processor, hops = stream(voice_predictor, speech_with_pauses, calls)
    speech_seconds = sum(len(h.audio) for h in hops if h.is_speech) / SAMPLE_RATE
    silent = [h for h in hops if not h.is_speech]
    assert speech_seconds >= 4 and len(silent) >= 4  # the stream has both
    assert sum(h.partials for h in silent) == 0
    # at most one partial per 1/1.3 s of new speech, and one to start with; recomputing the
    # window's embedding at every hop would take two partials per 0.5 s hop
    assert 0 < sum(calls) <= math.ceil(speech_seconds * PARTIAL_RATE) + 1, (calls, speech_seconds)
    assert max(calls) == 1  # a 0.5 s hop completes one partial at most, embedded once
    assert processor.voice.encoded == sum(calls)


def test_a_model_without_voice_features_never_runs_the_encoder(
    monkeypatch, tmp_path, speech_with_pauses
):
    predictor = load_predictor(make_run(tmp_path, "enhanced"))
    assert predictor.voice_encoder is None
    calls = count_partials(monkeypatch, predictor)  # resemblyzer's torch encoder, wrapped
    processor, hops = stream(predictor, speech_with_pauses[: 4 * SAMPLE_RATE], calls)
    assert processor.voice is None and any(h.is_speech for h in hops)
    assert calls == []


# --- what the embedding is -------------------------------------------------------------------


def test_the_stream_embedding_is_the_mean_of_its_last_partials(
    monkeypatch, voice_run, speech_with_pauses
):
    predictor = load_predictor(voice_run)
    seen = []  # the features each window was classified with
    predict = predictor.predict_batch
    monkeypatch.setattr(
        predictor,
        "predict_batch",
        lambda feats, stats=None: seen.append(feats[0]) or predict(feats, stats),
    )
    _, hops = stream(predictor, speech_with_pauses)
    seen = seen[1:]  # the warm-up's window of silence
    speech_hops = [h for h in hops if h.is_speech]
    assert len(seen) == len(speech_hops) >= 8
    speech = np.concatenate([h.audio for h in speech_hops])
    assert len(whole_partials(speech)) > STREAM_PARTIALS  # old partials have been left behind
    expected = reference_embeddings([h.audio for h in speech_hops])
    for hop, feats, reference in zip(speech_hops, seen, expected, strict=True):
        np.testing.assert_allclose(hop.embedding, reference, atol=EMBEDDING_TOLERANCE)
        # the window was classified with the stream's embedding beside each log-mel frame
        assert feats.shape[1] == 40 + VOICE_DIMS
        np.testing.assert_array_equal(
            feats[:, 40:], np.broadcast_to(hop.embedding, feats[:, 40:].shape)
        )
    assert float(expected[0] @ expected[-1]) < 0.9  # it moved along the stream (two voices)


def test_a_steady_stream_ends_near_its_clips_own_embedding(voice_run):
    predictor = load_predictor(voice_run)
    clip = load_audio(STEADY)
    _, hops = stream(predictor, np.concatenate([clip] * 4))
    final = [h.embedding for h in hops if h.embedding is not None][-1]
    own = float(final @ voice_embedding(clip))
    others = [float(final @ voice_embedding(load_audio(p))) for p in EXAMPLES if p != STEADY]
    assert own > STEADY_COSINE, own
    assert own > max(others) + 0.1, (own, others)


def test_a_new_voice_moves_the_embedding(voice_run):
    predictor = load_predictor(voice_run)
    first, second = load_audio(MALE), load_audio(FEMALE)
    v_first, v_second = voice_embedding(first), voice_embedding(second)
    _, hops = stream(predictor, np.concatenate([first, first, second, second]))
    boundary = 2 * len(first) // HOP
    before = [h.embedding for h in hops[:boundary] if h.embedding is not None][-1]
    after = hops[-1].embedding
    assert before @ v_first > before @ v_second + 0.2
    assert after @ v_second > after @ v_first + 0.2
    assert after @ v_second > before @ v_second + 0.2


# --- torch and ONNX, and speaker adaptation -------------------------------------------------


def test_torch_and_onnx_listen_alike(voice_run, voice_onnx, speech_with_pauses, tmp_path):
    path = write_audio(tmp_path / "stream.wav", speech_with_pauses)
    runs = {}
    for name, model in (("torch", voice_run), ("onnx", voice_onnx)):
        runs[name] = list(iter_updates(FileSource(path, speed=0), load_predictor(model)))
    assert [u.is_speech for u in runs["torch"]] == [u.is_speech for u in runs["onnx"]]
    pairs = [(t, o) for t, o in zip(runs["torch"], runs["onnx"], strict=True) if t.is_speech]
    assert len(pairs) >= 8
    for t, o in pairs:
        assert np.abs(t.probabilities - o.probabilities).max() <= PARITY
        assert np.abs(t.smoothed - o.smoothed).max() <= PARITY
    assert {u.label for u in runs["onnx"]} & set(EMOTIONS)


def test_speaker_adaptation_keeps_the_voice_dims_spread(voice_predictor, speech_with_pauses):
    processor, hops = stream(voice_predictor, speech_with_pauses)
    assert processor.speaker is not None and processor.speaker.clip_dims == VOICE_DIMS
    current = processor.speaker.current()
    assert current is not processor.speaker.prior  # adapted: past min_frames of speech
    # one embedding per window leaves no spread within a hop; without the spread between
    # hops the voice dims would be divided by STD_FLOOR
    assert current.std[40:].min() > 10 * STD_FLOOR
    assert np.median(current.std[40:]) > 0.5 * np.median(voice_predictor.global_stats.std[40:])


def test_running_stats_of_values_held_per_clip():
    rng = np.random.default_rng(0)
    prior = Stats(rng.normal(size=5).astype(np.float32), rng.uniform(1, 2, 5).astype(np.float32))
    batches = []
    for _ in range(6):
        frames = rng.normal(size=(50, 5))
        frames[:, 3:] = rng.normal(size=2)  # the last two dims: one value per update
        batches.append(frames)
    plain, held = RunningStats(prior, weight=0.1), RunningStats(prior, weight=0.1, clip_dims=2)
    for frames in batches:
        plain.update(frames)
        held.update(frames)
    # frame dims exactly as without clip dims
    np.testing.assert_array_equal(held.mean, plain.mean)
    np.testing.assert_array_equal(held.var[:3], plain.var[:3])
    # clip dims: the prior's variance, then an exponentially weighted variance of the values
    w, values = 0.1, [b[0, 3:] for b in batches]
    mean, var = values[0], prior.std[3:].astype(np.float64) ** 2
    for value in values[1:]:
        var = (1 - w) * var + w * (1 - w) * (value - mean) ** 2
        mean = (1 - w) * mean + w * value
    np.testing.assert_allclose(held.var[3:], var, rtol=1e-9)
    np.testing.assert_allclose(held.mean[3:], mean, rtol=1e-9)
    assert np.all(plain.var[3:] < 1e-12)  # what the clip dims were without: no spread at all


# --- the predictors' voice argument ----------------------------------------------------------


def test_features_with_a_given_embedding(voice_predictor):
    clip = load_audio(STEADY)[: 2 * SAMPLE_RATE]
    embedding = reference_partials([clip[:SAMPLE_RATE]])[0]
    feats = voice_predictor.features(clip, voice=embedding)
    own = voice_predictor.features(clip)
    np.testing.assert_array_equal(feats[:, :40], own[:, :40])
    np.testing.assert_array_equal(
        feats[:, 40:], np.broadcast_to(embedding, (len(feats), VOICE_DIMS))
    )
    assert voice_predictor.voice_encoder(np.zeros((2, 160, MEL_BANDS), np.float32)).shape == (
        2,
        VOICE_DIMS,
    )
    with pytest.raises(
        ConfigError,
        match=f"a voice embedding has {VOICE_DIMS} values; got an array of shape \\(10,\\)",
    ):
        voice_predictor.features(clip, voice=np.zeros(10, np.float32))


def test_a_model_without_voice_features_refuses_an_embedding(tmp_path):
    from ser_cli.inference.onnx_export import export_onnx

    run = make_run(tmp_path, "enhanced")
    export_onnx(run, tmp_path / "plain.onnx")
    for model in (run, tmp_path / "plain.onnx"):
        with pytest.raises(ModelError, match=r"^\S+: reads no voice features; no voice embedding"):
            load_predictor(model).features(load_audio(STEADY), voice=np.zeros(VOICE_DIMS))


def test_listen_with_a_voice_onnx_never_imports_torch(voice_onnx, speech_with_pauses, tmp_path):
    wav = write_audio(tmp_path / "stream.wav", speech_with_pauses)
    log = tmp_path / "updates.csv"
    args = [
        "listen",
        "--file",
        str(wav),
        "--speed",
        "0",
        "--model",
        str(voice_onnx),
        "--log",
        str(log),
    ]
    ser_without_torch(*args)
    with log.open(newline="") as fh:
        labels = [row["label"] for row in csv.DictReader(fh)]
    assert "silence" in labels and set(labels) & set(EMOTIONS)
