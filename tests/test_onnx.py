"""`ser export` to ONNX and the torch-free OnnxPredictor: numpy features, Silero in
onnxruntime, metadata, parity with torch, and a predict path that never imports torch."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import MAX_EVAL_FRAMES, SMALL_OPTIONS, check_predictor, make_run
from typer.testing import CliRunner

from ser_cli.audio.io import SAMPLE_RATE, load_audio, write_audio
from ser_cli.audio.synthetic import synth_clip
from ser_cli.cli import app
from ser_cli.errors import ModelError
from ser_cli.features.extract import FeatureConfig, compute_features
from ser_cli.features.normalization import Stats
from ser_cli.inference.load import load_predictor
from ser_cli.labels import EMOTIONS

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

runner = CliRunner()
EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.wav"))
PARITY = 1e-4  # largest probability difference ONNX vs torch the issue allows
CLIP_SECONDS = (0.3, 1.0, 2.2, 4.5)  # clip lengths the parity tests use


def clips(seed: int = 0) -> list[np.ndarray]:
    return [
        synth_clip(EMOTIONS[i % len(EMOTIONS)], i, duration=d, seed=seed + i)
        for i, d in enumerate(CLIP_SECONDS)
    ]


def torch_probs(predictor, feats, stats=None) -> np.ndarray:
    """The torch predictor's probabilities, batched where it can batch."""
    if hasattr(predictor, "predict_batch"):
        return predictor.predict_batch(feats, stats)
    stats = stats or [None] * len(feats)
    return np.stack(
        [predictor.predict_batch([f], [s])[0] for f, s in zip(feats, stats, strict=True)]
    )


def onnx_probs(predictor, feats, torch_predictor, stats=None) -> np.ndarray:
    """The ONNX predictor's probabilities, batched the same way as the torch side."""
    if hasattr(torch_predictor, "predict_batch"):
        return predictor.predict_batch(feats, stats)
    stats = stats or [None] * len(feats)
    return np.concatenate(
        [predictor.predict_batch([f], [s]) for f, s in zip(feats, stats, strict=True)]
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    """(run folder, exported .onnx) of a small enhanced model, shared by the fast tests."""
    from ser_cli.inference.onnx_export import export_onnx

    root = tmp_path_factory.mktemp("onnx")
    run = make_run(root, "enhanced")
    return run, export_onnx(run, root / "enhanced.onnx").path


# --- numpy front end and Silero in onnxruntime ---------------------------------------------


def test_numpy_filterbank_is_torchaudios():
    import torchaudio.functional as AF

    from ser_cli.features.numpy_mel import mel_filterbank

    cfg = FeatureConfig()
    expected = AF.melscale_fbanks(
        cfg.n_fft // 2 + 1, cfg.f_min, cfg.f_max, cfg.n_mels, SAMPLE_RATE
    ).numpy()
    # torchaudio builds it in float32, this in float64: equal to float32 rounding
    np.testing.assert_allclose(
        mel_filterbank(cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max), expected, atol=2e-5
    )


@pytest.mark.parametrize("trim", [True, False])
def test_numpy_logmel_matches_torchaudio(trim):
    from ser_cli.features.numpy_mel import compute_features_numpy

    cfg = FeatureConfig(trim_silence=trim)
    quiet = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)  # trimmed away when trim is on
    for samples in [*clips(), np.concatenate([quiet, clips()[1], quiet]), load_audio(EXAMPLES[0])]:
        expected = compute_features(samples, cfg)
        got = compute_features_numpy(samples, cfg)
        assert got.shape == expected.shape and got.dtype == np.float32
        # float32 FFT in torch vs float64 here: differences live in the faintest bins only
        assert np.abs(got - expected).max() < 1e-3


def test_numpy_mfcc_matches_torchaudio():
    import torch
    import torchaudio.transforms as T

    from ser_cli.features.extract import _mel_only
    from ser_cli.features.numpy_mel import compute_features_numpy

    cfg = FeatureConfig(kind="mfcc", trim_silence=False)
    mfcc = T.MFCC(SAMPLE_RATE, n_mfcc=cfg.n_mfcc, log_mels=True, melkwargs=_mel_only(cfg))
    samples = clips()[2]
    expected = mfcc(torch.from_numpy(samples)).T.numpy()
    got = compute_features_numpy(samples, cfg)
    assert got.shape == expected.shape == (len(samples) // cfg.hop_length + 1, cfg.n_mfcc)
    assert np.abs(got - expected).max() < 1e-3


def test_onnx_voice_activity_matches_silero():
    from ser_cli.audio.vad import OnnxVoiceActivity, VoiceActivity

    speech = load_audio(EXAMPLES[1])
    silence = np.zeros(SAMPLE_RATE, dtype=np.float32)
    reference, onnx = VoiceActivity(), OnnxVoiceActivity()
    for samples in (speech, np.concatenate([silence, speech, silence]), silence):
        expected = reference.chunk_probabilities(samples)
        got = onnx.chunk_probabilities(samples)
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4
        assert onnx.is_speech(samples) == reference.is_speech(samples)
    assert onnx.is_speech(speech) and not onnx.is_speech(silence)
    assert onnx.speech_fraction(silence[:100]) == 0.0


@pytest.mark.vad
def test_has_speech_stops_early_with_the_answer_of_the_whole_clip():
    from ser_cli.audio.vad import CHUNK, OnnxVoiceActivity, VoiceActivity, speech_spans

    speech = load_audio(EXAMPLES[1])
    silence = np.zeros(3 * SAMPLE_RATE, dtype=np.float32)
    click = np.zeros(2 * SAMPLE_RATE, dtype=np.float32)
    click[SAMPLE_RATE : SAMPLE_RATE + 1600] = speech[len(speech) // 2 : len(speech) // 2 + 1600]
    late = np.concatenate([silence, silence, speech])  # speech after 6 s or more
    for vad in (VoiceActivity(), OnnxVoiceActivity()):
        read, whole = [], vad.chunk_probabilities

        def counted(x, reset=True, read=read, whole=whole):
            read.append(len(x))
            return whole(x, reset=reset)

        vad.chunk_probabilities = counted
        for samples in (speech, np.concatenate([silence, speech]), late, silence, click):
            expected = bool(speech_spans(whole(samples)))
            read.clear()
            assert vad.has_speech(samples) == expected
            if samples is speech:  # found in the first blocks, the rest never read
                assert expected and sum(read) < len(samples) // 2
        assert vad.has_speech(late) and not vad.has_speech(silence)
        read.clear()
        assert not vad.has_speech(click)
        assert sum(read) == len(click) // CHUNK * CHUNK  # no speech: every chunk read once


# --- export and parity ----------------------------------------------------------------------


def test_export_writes_self_describing_file(exported):
    import onnx

    from ser_cli.__version__ import __version__
    from ser_cli.inference.onnx_export import read_metadata

    run, path = exported
    model = onnx.load_model(str(path))
    meta = read_metadata(model)
    assert meta["model"] == "enhanced" and meta["ser_version"] == __version__
    assert meta["labels"] == list(EMOTIONS)
    assert FeatureConfig.from_dict(meta["feature_config"]) == FeatureConfig()
    assert meta["max_eval_frames"] == MAX_EVAL_FRAMES and meta["normalization"] == "speaker"
    expected = load_predictor(run).global_stats
    np.testing.assert_allclose(meta["global_mean"], expected.mean, rtol=1e-6)
    np.testing.assert_allclose(meta["global_std"], expected.std, rtol=1e-6)
    assert meta["checkpoint"]["model_config"]["channels"] == SMALL_OPTIONS["enhanced"]["channels"]
    dims = {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in model.graph.input
    }
    assert set(dims) == {"x", "mask"}
    assert isinstance(dims["x"][0], str) and isinstance(dims["x"][1], str)  # dynamic batch, frames
    assert not list(path.parent.glob("*.data"))  # weights inline: one file


def check_parity(run: Path, path: Path) -> float:
    torch_predictor, onnx_predictor = load_predictor(run), load_predictor(path)
    assert type(onnx_predictor).__name__ == "OnnxPredictor"
    check_predictor(onnx_predictor)
    check_predictor(torch_predictor)
    assert onnx_predictor.labels == torch_predictor.labels
    feats = [torch_predictor.features(s) for s in clips()]
    assert max(f.shape[0] for f in feats) > MAX_EVAL_FRAMES  # the centre cut is exercised
    speaker = Stats(feats[1].mean(0), feats[1].std(0) + 0.5)
    worst = 0.0
    for stats in (None, [speaker, None, speaker, None]):
        expected = torch_probs(torch_predictor, feats, stats)
        got = onnx_probs(onnx_predictor, feats, torch_predictor, stats)
        assert got.shape == (len(feats), len(EMOTIONS))
        np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
        worst = max(worst, float(np.abs(got - expected).max()))
    assert expected.max() > 0.5  # a sharp model, so agreement is not trivially near-uniform
    # End to end: numpy features, onnxruntime model vs torchaudio features, torch model
    for samples in clips(seed=7):
        diff = np.abs(_probs(onnx_predictor, samples) - _probs(torch_predictor, samples))
        worst = max(worst, float(diff.max()))
    assert worst <= PARITY, worst
    return worst


def test_onnx_matches_torch_on_clips_of_different_lengths(exported):
    check_parity(*exported)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["base", "ultimate", "simplified"])
def test_every_neural_model_exports_and_matches_torch(tmp_path, model):
    from ser_cli.inference.onnx_export import export_onnx

    run = make_run(tmp_path, model)
    result = export_onnx(run, tmp_path / f"{model}.onnx")
    assert result.model == model and result.max_difference <= PARITY
    check_parity(run, result.path)


@pytest.mark.slow
def test_the_bundled_model_runs_from_its_shipped_onnx_export_equal_to_its_run_folder(tmp_path):
    """`--model default` on the CPU is the shipped model.onnx (no torch import), and it is the
    run folder beside it: the same probabilities as torch on the examples, and as a fresh
    `ser export default` (a retrained bundle without a new export fails here)."""
    from ser_cli.inference.onnx_predictor import OnnxPredictor
    from ser_cli.inference.predictor import TorchPredictor
    from ser_cli.paths import BUNDLED_ONNX, bundled_model_dir

    shipped = load_predictor("default")
    assert isinstance(shipped, OnnxPredictor)
    torch_predictor = load_predictor(bundled_model_dir())  # the folder itself: torch
    assert isinstance(torch_predictor, TorchPredictor)
    result = runner.invoke(app, ["export", "default", "--out", str(tmp_path / "default.onnx")])
    assert result.exit_code == 0, result.output
    assert "exported enhanced" in result.output
    fresh = load_predictor(tmp_path / "default.onnx")
    for path in EXAMPLES:
        samples = load_audio(path)
        expected = _probs(torch_predictor, samples)
        for predictor in (shipped, fresh):
            got = _probs(predictor, samples)
            assert np.abs(got - expected).max() <= PARITY
            assert got.argmax() == expected.argmax()
    assert (bundled_model_dir() / BUNDLED_ONNX).stat().st_size > 1e6
    output = ser_without_torch("predict", str(EXAMPLES[0]), "--format", "json")
    assert json.loads(output)[0]["label"] in EMOTIONS


# --- refusals -------------------------------------------------------------------------------


def test_export_refuses_what_it_cannot_export(tmp_path):
    from ser_cli.atomic import write_json
    from ser_cli.models.checkpoint import read_sidecar

    run = make_run(tmp_path, "enhanced")
    meta = read_sidecar(run)
    write_json(run / "best.json", {**meta, "model": "classic"})
    result = runner.invoke(app, ["export", str(run), "--out", str(tmp_path / "c.onnx")])
    assert result.exit_code == 1
    assert "model 'classic' cannot be exported to ONNX" in result.output
    assert not (tmp_path / "c.onnx").exists()
    result = runner.invoke(app, ["export", str(run), "--format", "tflite", "--out", "m.tfl"])
    assert result.exit_code == 2 and "Invalid value for '--format'" in result.output
    result = runner.invoke(
        app, ["export", str(tmp_path / "nope"), "--out", str(tmp_path / "n.onnx")]
    )
    assert result.exit_code == 1 and "not found" in result.output


def test_onnx_predictor_refuses_foreign_and_missing_files(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "foreign",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    foreign = tmp_path / "foreign.onnx"
    onnx.save_model(helper.make_model(graph), str(foreign))
    with pytest.raises(ModelError, match="without ser metadata"):
        load_predictor(foreign)
    with pytest.raises(ModelError, match="not found"):
        load_predictor(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        load_predictor(tmp_path / "junk.onnx")


def test_the_optimised_graph_is_kept_per_file_version_and_rebuilt_when_damaged(
    exported, tmp_path, ser_home
):
    import shutil

    _, original = exported
    path = tmp_path / "model.onnx"
    shutil.copy(original, path)
    samples = clips()[1]
    fresh = _probs(load_predictor(path), samples)
    [kept] = list((ser_home / "onnx").glob("*.ort"))  # written by the first session
    written = kept.stat().st_mtime_ns
    assert _probs(load_predictor(path), samples).tolist() == fresh.tolist()  # read from it
    assert list((ser_home / "onnx").glob("*")) == [kept] and kept.stat().st_mtime_ns == written
    kept.write_bytes(b"damaged")  # a copy that will not load is replaced, answers unchanged
    assert _probs(load_predictor(path), samples).tolist() == fresh.tolist()
    assert kept.stat().st_size > 1000
    # the file changes (re-exported): a new copy, the old one gone
    shutil.copy(original, path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    load_predictor(path)
    [new] = list((ser_home / "onnx").glob("*.ort"))
    assert new != kept and new.name.split("-")[0] == kept.name.split("-")[0]
    # a cache folder that cannot be written costs nothing but the time
    shutil.rmtree(ser_home / "onnx")
    (ser_home / "onnx").write_text("a file where the folder should be")
    assert _probs(load_predictor(path), samples).tolist() == fresh.tolist()


# --- the torch-free predict path ------------------------------------------------------------

NO_TORCH_SCRIPT = """
import json, sys
from typer.testing import CliRunner
from ser_cli.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
print(json.dumps({"exit": result.exit_code, "output": result.output,
                  "torch": sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchaudio"))}))
"""


def ser_without_torch(*args: str) -> str:
    """Run `ser ARGS` in a fresh process; assert it succeeded without importing torch and
    return its output."""
    out = subprocess.run(
        [sys.executable, "-c", NO_TORCH_SCRIPT, *args], capture_output=True, text=True, check=True
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["exit"] == 0, report["output"]
    assert report["torch"] == []
    return report["output"]


def test_predict_with_onnx_never_imports_torch(exported, tmp_path):
    _, model = exported
    # real speech: the subprocess runs the real speech check (conftest's stand-in is not there)
    short = write_audio(tmp_path / "a" / "short.wav", load_audio(EXAMPLES[1]))
    speech = load_audio(EXAMPLES[0])
    gap = np.zeros(3 * SAMPLE_RATE, dtype=np.float32)
    write_audio(tmp_path / "a" / "long.wav", np.concatenate([speech, gap, speech, speech]))
    write_audio(tmp_path / "b" / "rate.wav", clips()[2][::2], SAMPLE_RATE // 2)  # resampled
    args = ["predict", str(tmp_path / "a"), str(tmp_path / "b"), "--model", str(model)]
    output = ser_without_torch(*args, "--format", "json", "--adapt", "folder")
    results = {Path(r["path"]).name: r for r in json.loads(output)}
    assert set(results) == {"short.wav", "long.wav", "rate.wav"}
    assert results["short.wav"]["label"] in EMOTIONS
    assert "silence" in [s["label"] for s in results["long.wav"]["segments"]]
    assert short.exists()


def test_listen_with_onnx_never_imports_torch(exported, tmp_path):
    _, model = exported
    speech = load_audio(EXAMPLES[0])
    gap = np.zeros(SAMPLE_RATE, dtype=np.float32)
    wav = write_audio(tmp_path / "stream.wav", np.concatenate([gap, speech, gap]))
    log = tmp_path / "updates.csv"
    ser_without_torch(
        "listen", "--file", str(wav), "--speed", "0", "--model", str(model), "--log", str(log)
    )
    with log.open(newline="") as fh:
        labels = [row["label"] for row in csv.DictReader(fh)]
    assert "silence" in labels and set(labels) & set(EMOTIONS)


def _probs(predictor, samples):
    """One clip's probabilities (classes,) from 16 kHz audio, through the batched path."""
    return predictor.predict_batch([predictor.features(samples)])[0]


def test_eval_scores_an_onnx_file_as_its_run_folder(exported, tmp_path):
    from synthetic_runs import write_corpus

    from ser_cli.data.manifest import write_manifest

    run, onnx_path = exported
    rows = write_corpus(tmp_path / "audio")
    manifest = write_manifest(rows, tmp_path / "prep" / "manifest.csv")
    args = ["eval", "--data", str(manifest), "--no-adapt", "--json", "--per-file"]
    onnx = runner.invoke(app, [*args, "--model", str(onnx_path)])
    torch_run = runner.invoke(app, [*args, "--model", str(run), "--out", str(tmp_path / "r")])
    assert onnx.exit_code == 0 and torch_run.exit_code == 0, onnx.output + torch_run.output
    a, b = json.loads(onnx.output), json.loads(torch_run.output)  # one model: its report
    assert a["n"] == b["n"] == sum(r["split"] == "test" for r in rows)
    assert a["confusion"] == b["confusion"] and a["accuracy"] == b["accuracy"]
