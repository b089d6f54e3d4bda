"""Pictures: `ser predict --plot` timelines, training curves and TensorBoard events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import quick_config, write_corpus
from typer.testing import CliRunner

from ser_cli.audio.io import SAMPLE_RATE, load_audio, write_audio
from ser_cli.cli import app
from ser_cli.inference.predictor import FilePrediction, Segment
from ser_cli.labels import EMOTIONS, SILENCE
from ser_cli.plots import CURVE_NAME, timeline_intervals, timeline_targets

runner = CliRunner()
EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.wav"))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels, read from the PNG header."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def result(path: str, segments=(), duration: float = 10.0) -> FilePrediction:
    probs = dict.fromkeys(EMOTIONS, 1 / len(EMOTIONS))
    return FilePrediction(path, "happy", probs, duration, list(segments))


def test_timeline_spans_do_not_overlap_and_cover_the_recording():
    probs = dict.fromkeys(EMOTIONS, 0.125)
    segments = [
        Segment(0.0, 3.0, "sad", probs),
        Segment(1.5, 4.5, SILENCE, None),
        Segment(3.0, 6.0, "sad", probs),
        Segment(4.5, 7.2, "angry", probs),
    ]
    spans = timeline_intervals(result("a.wav", segments, duration=7.2))
    assert [(s, e) for s, e, _, _ in spans] == [(0.0, 1.5), (1.5, 3.0), (3.0, 4.5), (4.5, 7.2)]
    assert [label for _, _, label, _ in spans] == ["sad", SILENCE, "sad", "angry"]
    whole = timeline_intervals(result("b.wav", duration=2.0))
    assert whole == [(0.0, 2.0, "happy", result("b.wav").probabilities)]


def test_timeline_file_names_for_one_and_several_files(tmp_path):
    one = [result("x/talk.wav")]
    assert [p for _, p in timeline_targets(one, tmp_path / "t.png")] == [tmp_path / "t.png"]
    many = [result("x/talk.wav"), result("y/talk.wav"), result("z/bad.wav")]
    many[2].error = "broken"
    assert [p.name for _, p in timeline_targets(many, tmp_path / "plots")] == [
        "talk.png",
        "talk-2.png",
    ]
    assert [p.name for _, p in timeline_targets(many, tmp_path / "t.png")] == [
        "t-talk.png",
        "t-talk-2.png",
    ]


def test_predict_plot_draws_a_long_recording(tmp_path):
    speech = load_audio(EXAMPLES[0])
    gap = np.zeros(4 * SAMPLE_RATE, dtype=np.float32)
    long = write_audio(tmp_path / "long.wav", np.concatenate([speech, speech, gap, speech]))
    png = tmp_path / "timeline.png"
    out = runner.invoke(
        app, ["predict", str(long), "--plot", str(png), "--window", "2", "--hop", "1"]
    )
    assert out.exit_code == 0, out.output
    assert f"wrote {png}" in out.output
    width, height = png_size(png)
    assert width >= 1200 and height >= 400  # wide enough for per-segment labels
    folder = tmp_path / "plots"
    out = runner.invoke(app, ["predict", str(long), str(EXAMPLES[1]), "--plot", str(folder)])
    assert out.exit_code == 0, out.output
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["long.png", f"{EXAMPLES[1].stem}.png"]
    )


@pytest.mark.slow
def test_training_leaves_a_curve_and_tensorboard_events(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from ser_cli.training.tensorboard_log import TENSORBOARD_DIR, TensorBoardLog
    from ser_cli.training.trainer import train_run

    rows = write_corpus(tmp_path / "audio", emotions=("neutral", "angry", "sad"), duration=0.6)
    run = tmp_path / "run"
    board = TensorBoardLog(run)
    result = train_run(
        rows, quick_config("enhanced", epochs=2), run, cache_root=tmp_path / "c", on_epoch=board
    )
    board.close()
    assert (run / "history.jsonl").exists()
    width, height = png_size(run / CURVE_NAME)
    assert width > height > 200
    events = EventAccumulator(str(run / TENSORBOARD_DIR))
    events.Reload()
    assert {"loss/train", "val/uar", "val/accuracy"} <= set(events.Tags()["scalars"])
    uar = events.Scalars("val/uar")
    assert [e.step for e in uar] == [1, 2]
    assert uar[-1].value == pytest.approx(result.history[-1]["val_uar"])


def test_cli_train_leaves_a_curve_and_tensorboard_folder(tmp_path):
    pytest.importorskip("tensorboard")
    from ser_cli.data.manifest import write_manifest

    rows = write_corpus(tmp_path / "audio", emotions=("neutral", "angry"), duration=0.6)
    manifest = write_manifest(rows, tmp_path / "manifest.csv")
    run = tmp_path / "run"
    args = ["train", "--model", "classic", "--data", str(manifest), "--out", str(run)]
    result = runner.invoke(app, [*args, "--tensorboard"])
    assert result.exit_code == 0, result.output
    assert png_size(run / CURVE_NAME)[0] > 0
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
