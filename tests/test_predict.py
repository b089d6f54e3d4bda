"""`ser predict`: files, folders, globs, long recordings, formats, failures, the bundled model."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import quick_config, write_corpus
from typer.testing import CliRunner

from ser_cli.audio.io import SAMPLE_RATE, write_audio
from ser_cli.audio.synthetic import synth_clip
from ser_cli.cli import app
from ser_cli.inference.load import load_predictor
from ser_cli.inference.predictor import expand_inputs, predict_files
from ser_cli.labels import EMOTIONS, SILENCE
from ser_cli.paths import bundled_model_dir
from ser_cli.training.trainer import train_run

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("predict")
    rows = write_corpus(root / "audio")
    out = root / "run"
    train_run(rows, quick_config("classic"), out, cache_root=root / "cache")
    return out


def test_json_output_has_the_documented_shape(run_dir, tmp_path):
    clip = write_audio(tmp_path / "a.wav", synth_clip("angry", 1, duration=1.0))
    result = runner.invoke(app, ["predict", str(clip), "--model", str(run_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.output)
    assert item["path"] == str(clip)
    assert item["label"] in EMOTIONS
    assert sum(item["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert item["label"] == max(item["probabilities"], key=item["probabilities"].get)


def _bar_rows(output: str) -> list[str]:
    """The emotion named on each probability-bar row of the table output."""
    return [
        line.split()[0]
        for line in output.splitlines()
        if "%" in line and ("█" in line or "·" in line)
    ]


def test_table_output_shows_bars_and_top_k(run_dir, tmp_path):
    clip = write_audio(tmp_path / "a.wav", synth_clip("sad", 1, duration=1.0))
    args = ["predict", str(clip), "--model", str(run_dir)]
    full = runner.invoke(app, [*args, "--format", "json"])
    probs = json.loads(full.stdout)[0]["probabilities"]
    ranked = sorted(probs, key=probs.get, reverse=True)
    result = runner.invoke(app, [*args, "--top-k", "2"])
    assert result.exit_code == 0, result.output
    assert "█" in result.output
    shown = _bar_rows(result.output)
    assert len(shown) == 2  # exactly the two most likely, highest first (ties in either order)
    assert [probs[label] for label in shown] == [probs[label] for label in ranked[:2]]
    assert sorted(_bar_rows(runner.invoke(app, args).output)) == sorted(EMOTIONS)  # all 8
    top = json.loads(runner.invoke(app, [*args, "--format", "json", "--top-k", "3"]).stdout)
    assert [t["probability"] for t in top[0]["top"]] == [probs[label] for label in ranked[:3]]


def test_csv_to_file_folders_and_globs(run_dir, tmp_path):
    folder = tmp_path / "clips"
    for i, emotion in enumerate(("happy", "calm", "fearful")):
        write_audio(
            folder / ("sub" if i else "") / f"{emotion}.flac", synth_clip(emotion, 2, duration=1.0)
        )
    out = tmp_path / "out.csv"
    result = runner.invoke(
        app,
        ["predict", str(folder), "--model", str(run_dir), "--format", "csv", "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 3 and set(rows[0]) >= {"path", "label", *EMOTIONS}
    files, missing = expand_inputs([str(folder / "**" / "*.flac"), str(tmp_path / "nothing*.wav")])
    assert len(files) == 3 and missing == [str(tmp_path / "nothing*.wav")]


def test_predictions_are_deterministic(run_dir, tmp_path):
    clip = write_audio(tmp_path / "a.wav", synth_clip("disgust", 3, duration=1.0))
    args = ["predict", str(clip), "--model", str(run_dir), "--format", "json"]
    assert runner.invoke(app, args).output == runner.invoke(app, args).output


def test_long_recording_becomes_a_timeline_with_silence(run_dir, tmp_path):
    from ser_cli.audio.io import load_audio

    # Real speech would be better; the VAD needs voice-like audio, so use an example clip.
    speech = load_audio(sorted(EXAMPLES.glob("*.wav"))[0])
    gap = np.zeros(4 * SAMPLE_RATE, dtype=np.float32)
    long = np.concatenate([speech, speech, gap, speech, speech])
    path = write_audio(tmp_path / "long.wav", long)
    predictor = load_predictor(run_dir)
    [result] = predict_files(predictor, [path], window=2.0, hop=1.0)
    labels = [s.label for s in result.segments]
    assert SILENCE in labels, labels
    assert any(label != SILENCE for label in labels)
    silent = [s for s in result.segments if s.label == SILENCE]
    gap_start = 2 * len(speech) / SAMPLE_RATE
    assert any(s.start >= gap_start - 0.5 and s.end <= gap_start + 4.5 for s in silent)
    assert result.label in EMOTIONS and result.segments[0].start == 0.0
    payload = result.to_dict()
    for segment in payload["segments"]:
        if segment["label"] == SILENCE:
            assert segment["probabilities"] is None
        else:
            probs = segment["probabilities"]
            assert sum(probs.values()) == pytest.approx(1.0, abs=1e-3)
            assert segment["label"] == max(probs, key=probs.get)
    speech = [s.probabilities for s in result.segments if s.probabilities]
    mean = {label: np.mean([p[label] for p in speech]) for label in speech[0]}
    assert result.label == max(mean, key=mean.get)  # the file's label: the mean of its speech


def test_bad_file_is_reported_others_still_predicted(run_dir, tmp_path):
    good = write_audio(tmp_path / "good.wav", synth_clip("happy", 1, duration=1.0))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    result = runner.invoke(
        app,
        [
            "predict",
            str(good),
            str(bad),
            str(tmp_path / "missing.wav"),
            "--model",
            str(run_dir),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 1
    items = json.loads(result.stdout)
    assert items[0]["label"] in EMOTIONS and "error" in items[1]
    assert "2 of 3 input(s) failed" in result.stderr


def test_speaker_adaptation_changes_normalisation(run_dir, tmp_path):
    files = [write_audio(tmp_path / f"{e}.wav", synth_clip(e, 4, duration=1.0)) for e in EMOTIONS]
    predictor = load_predictor(run_dir)
    plain = predict_files(predictor, files, adapt="none")
    adapted = predict_files(predictor, files, adapt="all")
    assert [r.probabilities for r in plain] != [r.probabilities for r in adapted]


def test_unknown_model_and_format_fail_clearly(tmp_path):
    clip = write_audio(tmp_path / "a.wav", synth_clip("happy", 1, duration=1.0))
    result = runner.invoke(app, ["predict", str(clip), "--model", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "not found" in result.output
    result = runner.invoke(app, ["predict", str(clip), "--format", "xml"])
    assert result.exit_code == 2 and "--format" in result.output


def test_bundled_model_sidecar_matches_its_weights():
    from safetensors import safe_open

    from ser_cli.models.checkpoint import load_checkpoint, read_sidecar

    folder = bundled_model_dir()
    meta = read_sidecar(folder)
    assert meta["labels"] == list(EMOTIONS)
    with safe_open(str(folder / "best.safetensors"), "pt") as f:
        keys = set(f.keys())
    ckpt = load_checkpoint(folder)
    assert set(ckpt.model.state_dict()) <= keys
    assert "CC BY-NC-SA 4.0" in (folder / "MODEL.md").read_text()
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert total < 8 * 1024 * 1024


def test_predict_classifies_what_the_model_reads_whole_and_windows_longer_files(run_dir, tmp_path):
    predictor = load_predictor(run_dir)
    assert load_predictor("default").max_seconds == pytest.approx(8.0)  # as `--help` says
    limit = predictor.max_seconds
    short = write_audio(tmp_path / "short.wav", synth_clip("sad", 1, duration=limit - 0.5))
    long = write_audio(tmp_path / "long.wav", synth_clip("sad", 1, duration=limit + 1.0))
    whole, windowed = predict_files(predictor, [short, long], segment="fixed")
    assert whole.segments == [] and len(windowed.segments) >= 2
    assert windowed.segments[1].start == pytest.approx(limit / 2)  # hop: half a window


def test_bundled_model_predicts_example_clips_deterministically():
    clips = sorted(EXAMPLES.glob("*.wav"))
    assert clips, "examples/ should ship clips"
    args = ["predict", *map(str, clips), "--format", "json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    items = json.loads(first.stdout)
    assert len(items) == len(clips) and all(i["label"] in EMOTIONS for i in items)
    assert runner.invoke(app, args).stdout == first.stdout


@pytest.mark.vad
def test_no_speech_check_classifies_every_audible_clip(run_dir, tmp_path):
    # A steady 1 kHz whistle: audible, but no speech to Silero (a clip the check rejects).
    whistle = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)
    tone = write_audio(tmp_path / "tone.wav", whistle.astype(np.float32))
    zero = write_audio(tmp_path / "zero.wav", np.zeros(SAMPLE_RATE, dtype=np.float32))
    predictor = load_predictor(run_dir)
    checked = predict_files(predictor, [tone, zero])
    assert [r.label for r in checked] == [SILENCE, SILENCE]
    unchecked = predict_files(predictor, [tone, zero], speech_check=False)
    assert unchecked[0].label in EMOTIONS and unchecked[0].probabilities is not None
    assert unchecked[1].label == SILENCE  # digital silence is never classified
    args = ["predict", str(tone), "--model", str(run_dir), "--format", "json"]
    [item] = json.loads(runner.invoke(app, [*args, "--no-speech-check"]).output)
    assert item["label"] in EMOTIONS
    [item] = json.loads(runner.invoke(app, args).output)
    assert item["label"] == SILENCE
