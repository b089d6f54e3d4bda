"""Voice models (features.voice) in ONNX: resemblyzer's embedding in numpy around the speaker
encoder the exported file carries, parity with the torch predictor, and no torch."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import check_predictor, make_run
from test_onnx import EXAMPLES, PARITY, clips, ser_without_torch
from typer.testing import CliRunner

from ser_cli.audio.io import SAMPLE_RATE, load_audio, write_audio
from ser_cli.audio.synthetic import synth_clip
from ser_cli.cli import app
from ser_cli.errors import ModelError
from ser_cli.features import numpy_voice
from ser_cli.features.extract import FeatureConfig
from ser_cli.features.voice import MIN_SAMPLES, VOICE_DIMS, voice_embedding
from ser_cli.inference.load import load_predictor
from ser_cli.inference.predictor import PROB_DECIMALS
from ser_cli.labels import EMOTIONS

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

runner = CliRunner()
EMBEDDING_TOLERANCE = 1e-4  # largest difference numpy vs torch embedding, per value
REAL_16K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess-speech-16k"
GAP_SECONDS = 2.0  # a pause resemblyzer's trimming shortens


def resemblyzer():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # webrtcvad's pkg_resources deprecation
        import resemblyzer
        import resemblyzer.audio

    return resemblyzer


def torch_encoder(mels: np.ndarray) -> np.ndarray:
    """resemblyzer's own encoder in torch, as ser's torch path runs it."""
    import torch

    from ser_cli.features.voice import _encoder

    with torch.no_grad():
        return _encoder()[0](torch.from_numpy(mels)).numpy()


def with_gap(seconds: float = GAP_SECONDS) -> np.ndarray:
    """Real speech, a long pause of faint noise, real speech."""
    speech = load_audio(EXAMPLES[0])
    rng = np.random.default_rng(3)
    pause = (1e-4 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)
    return np.concatenate([speech, pause, load_audio(EXAMPLES[1])])


def short_speech() -> np.ndarray:
    """A clip with less than MIN_SAMPLES of speech (too little for the VAD's moving average):
    the embedding reads it whole."""
    speech = load_audio(EXAMPLES[2])
    start = int(np.argmax(np.abs(speech) > 0.1 * np.abs(speech).max()))
    return np.concatenate([np.zeros(2000, np.float32), speech[start : start + 900]])


def signals() -> dict[str, np.ndarray]:
    quiet_speech = load_audio(EXAMPLES[3]) * 0.01  # raised to -30 dBFS by the normalisation
    return {
        "tonal 1 s": synth_clip("happy", 0, duration=1.0),
        "tonal 4 s": synth_clip("sad", 3, duration=4.0, seed=2),
        "speech": load_audio(EXAMPLES[1]),
        "quiet speech": quiet_speech.astype(np.float32),
        "speech, pause, speech": with_gap(),
        "under MIN_SAMPLES of speech": short_speech(),
        "shorter than a VAD window": synth_clip("angry", 1, duration=0.02),
        "silence": np.zeros(SAMPLE_RATE, np.float32),
    }


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    """(run folder, .onnx) of a small enhanced voice model, exported through the CLI."""
    root = tmp_path_factory.mktemp("onnx-voice")
    run = make_run(root, "enhanced", voice=True)
    out = root / "voice.onnx"
    result = runner.invoke(app, ["export", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "with resemblyzer's speaker encoder" in result.output
    return run, out


# --- the numpy embedding ---------------------------------------------------------------------


def test_slaney_filterbank_is_torchaudios():
    import torchaudio.functional as AF

    expected = AF.melscale_fbanks(201, 0.0, 8000.0, 40, SAMPLE_RATE, "slaney", "slaney").numpy()
    got = numpy_voice.slaney_filterbank()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-7, rtol=1e-5)


def test_voice_mel_is_torchaudios():
    import torch

    from ser_cli.features.voice import _encoder

    wav = load_audio(EXAMPLES[0])
    expected = _encoder()[1](torch.from_numpy(wav)).T.numpy()
    got = numpy_voice.voice_mel(wav)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-6 * expected.max())


def test_partial_slices_are_resemblyzers():
    slices = resemblyzer().VoiceEncoder.compute_partial_slices
    for n in [*range(1, 40_000, 97), *range(40_000, 400_000, 4_999)]:
        wav_slices, mel_slices = slices(n, numpy_voice.PARTIAL_RATE, numpy_voice.MIN_COVERAGE)
        starts, stop = numpy_voice.partial_slices(n)
        assert starts == [s.start for s in mel_slices], n
        assert stop == wav_slices[-1].stop, n


def test_dilation_is_scipys():
    from scipy.ndimage import binary_dilation

    rng = np.random.default_rng(0)
    for size in (0, 1, 2, 5, 7, 8, 30, 200):
        for density in (0.05, 0.3):
            mask = rng.random(size) < density
            expected = binary_dilation(mask, np.ones(numpy_voice.VAD_MAX_SILENCE + 1))
            np.testing.assert_array_equal(numpy_voice._dilate(mask, 7), expected)


def test_trimming_is_resemblyzers_and_shortens_a_long_pause():
    """Sample for sample; in a row, so a detector that kept state between clips would show."""
    audio = resemblyzer().audio
    gap = with_gap()
    for samples in (*signals().values(), gap):
        samples = samples.astype(np.float32)
        if not np.any(samples):
            continue
        expected = audio.trim_long_silences(audio.normalize_volume(samples, -30, True))
        got = numpy_voice.trim_long_silences(numpy_voice.normalize_volume(samples))
        np.testing.assert_array_equal(got, expected)
    trimmed = numpy_voice.trim_long_silences(numpy_voice.normalize_volume(gap))
    assert len(trimmed) < len(gap) - GAP_SECONDS * SAMPLE_RATE  # long silences were cut...
    assert len(trimmed) > SAMPLE_RATE  # ...and the speech kept


@pytest.mark.parametrize("name", list(signals()))
def test_numpy_embedding_is_the_torch_one(name):
    samples = signals()[name]
    expected = voice_embedding(samples)
    got = numpy_voice.voice_embedding_numpy(samples, torch_encoder)
    assert got.shape == (VOICE_DIMS,) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=EMBEDDING_TOLERANCE)
    if name == "silence":
        assert not np.any(got)
    else:
        assert np.linalg.norm(got) == pytest.approx(1.0, abs=1e-5)


def test_the_edge_cases_take_the_paths_they_name():
    short = short_speech()
    trimmed = numpy_voice.trim_long_silences(numpy_voice.normalize_volume(short))
    assert len(trimmed) < MIN_SAMPLES < len(short)  # too little speech kept: read whole
    # the trimming changes the embedding: a front end that skipped it would not match
    gap = with_gap()
    untrimmed = numpy_voice.voice_embedding_numpy(gap, torch_encoder)
    no_trim = numpy_voice.trim_long_silences
    try:
        numpy_voice.trim_long_silences = lambda wav: wav
        skipped = numpy_voice.voice_embedding_numpy(gap, torch_encoder)
    finally:
        numpy_voice.trim_long_silences = no_trim
    assert np.abs(skipped - untrimmed).max() > 100 * EMBEDDING_TOLERANCE


@pytest.mark.realdata
@pytest.mark.skipif(not REAL_16K.is_dir(), reason="../shared/data/ravdess-speech-16k absent")
def test_numpy_embedding_is_the_torch_one_on_other_speakers():
    files = [next(iter(sorted((REAL_16K / f"Actor_{a:02d}").glob("*.flac")))) for a in (2, 9, 14)]
    for path in files:
        samples = load_audio(path)
        np.testing.assert_allclose(
            numpy_voice.voice_embedding_numpy(samples, torch_encoder),
            voice_embedding(samples),
            atol=EMBEDDING_TOLERANCE,
        )


# --- export and parity -----------------------------------------------------------------------


def test_a_voice_export_is_one_file_with_the_speaker_encoder_inside(exported):
    import onnx

    from ser_cli.inference.onnx_export import read_metadata

    run, path = exported
    model = onnx.load_model(str(path))
    meta = read_metadata(model)
    assert FeatureConfig.from_dict(meta["feature_config"]) == FeatureConfig(voice=True)
    speaker = meta["speaker_encoder"]
    assert speaker["bands"] == 40 and speaker["source"].startswith("resemblyzer ")
    dims = {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in model.graph.input
    }
    assert list(dims) == ["x", "mask", speaker["input"]]
    assert dims["x"][2] == FeatureConfig(voice=True).dims
    partials, frames, bands = dims[speaker["input"]]
    assert isinstance(partials, str) and isinstance(frames, str) and bands == 40
    assert [o.name for o in model.graph.output] == ["logits", speaker["output"]]
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, run.name])


def test_the_files_speaker_encoder_is_resemblyzers(exported):
    predictor = load_predictor(exported[1])
    rng = np.random.default_rng(1)
    for partials in (1, 3):
        mels = (rng.standard_normal((partials, 160, 40)) ** 2 * 5).astype(np.float32)
        np.testing.assert_allclose(
            predictor.encode_partials(mels), torch_encoder(mels), atol=EMBEDDING_TOLERANCE
        )
    for samples in (with_gap(), load_audio(EXAMPLES[4])):
        np.testing.assert_allclose(
            numpy_voice.voice_embedding_numpy(samples, predictor.encode_partials),
            voice_embedding(samples),
            atol=EMBEDDING_TOLERANCE,
        )


def test_onnx_voice_model_matches_torch(exported):
    run, path = exported
    torch_predictor, onnx_predictor = load_predictor(run), load_predictor(path)
    assert type(onnx_predictor).__name__ == "OnnxPredictor"
    check_predictor(onnx_predictor)
    audio = [*clips(), with_gap(), short_speech(), *(load_audio(p) for p in EXAMPLES[:3])]
    expected_feats = [torch_predictor.features(s) for s in audio]
    feats = [onnx_predictor.features(s) for s in audio]
    for got, expected in zip(feats, expected_feats, strict=True):
        assert got.shape == expected.shape == (len(got), FeatureConfig(voice=True).dims)
        np.testing.assert_allclose(got[:, 40:], expected[:, 40:], atol=EMBEDDING_TOLERANCE)
    expected = torch_predictor.predict_batch(expected_feats)
    got = onnx_predictor.predict_batch(feats)
    assert np.abs(got - expected).max() <= PARITY
    # the voice head matters: another clip's embedding moves the probabilities far past PARITY
    swapped = [
        np.concatenate([f[:, :40], np.broadcast_to(other[0, 40:], (len(f), VOICE_DIMS))], 1)
        for f, other in zip(feats, feats[1:] + feats[:1], strict=True)
    ]
    assert np.abs(onnx_predictor.predict_batch(swapped) - got).max() > 100 * PARITY


def test_predict_with_a_voice_onnx_never_imports_torch(exported, tmp_path):
    run, model = exported
    write_audio(tmp_path / "a" / "speech.wav", load_audio(EXAMPLES[1]))
    write_audio(tmp_path / "a" / "pause.wav", with_gap(1.0))
    args = ["predict", str(tmp_path / "a"), "--model", str(model), "--format", "json"]
    output = ser_without_torch(*args, "--adapt", "none")
    results = {Path(r["path"]).name: r for r in json.loads(output)}
    assert set(results) == {"speech.wav", "pause.wav"}
    torch_args = [*args[:2], "--model", str(run), "--format", "json", "--adapt", "none"]
    expected = runner.invoke(app, torch_args)
    assert expected.exit_code == 0, expected.output
    for row in json.loads(expected.output):
        got = results[Path(row["path"]).name]
        assert got["label"] == row["label"] and got["label"] in EMOTIONS
        for label, p in row["probabilities"].items():  # both rounded to PROB_DECIMALS
            assert got["probabilities"][label] == pytest.approx(p, abs=PARITY + 10**-PROB_DECIMALS)


# --- refusals --------------------------------------------------------------------------------


def _rewrite_metadata(source: Path, target: Path, change) -> Path:
    import onnx

    model = onnx.load_model(str(source))
    props = {p.key: json.loads(p.value) for p in model.metadata_props}
    change(props)
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save_model(model, str(target))
    return target


def test_a_voice_file_without_its_speaker_encoder_is_one_line(exported, tmp_path):
    _, path = exported
    bare = _rewrite_metadata(path, tmp_path / "bare.onnx", lambda m: m.pop("ser.speaker_encoder"))
    with pytest.raises(ModelError, match="carries no speaker encoder"):
        load_predictor(bare)

    def rename(meta):
        meta["ser.speaker_encoder"]["output"] = "logits_typo"

    wrong = _rewrite_metadata(path, tmp_path / "wrong.onnx", rename)
    with pytest.raises(ModelError, match="does not name the graph's speaker encoder"):
        load_predictor(wrong)
