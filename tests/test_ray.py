"""`ser predict --engine ray`: a local 2-CPU Ray, streamed JSONL/parquet, resume, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ser_cli.audio.io import load_audio, write_audio
from ser_cli.cli import app
from ser_cli.inference.ray_engine import _end_last_line, done_paths, read_path_list

runner = CliRunner()
GOOD = 5  # clips in the test folder, besides one broken file
# Real speech: Ray's actors run the real speech check (conftest's stand-in stays in this process)
EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.wav"))


@pytest.fixture
def audio(tmp_path) -> tuple[Path, list[Path]]:
    """A folder of GOOD clips and one broken file, plus a list file naming two more paths."""
    folder = tmp_path / "audio"
    paths = [write_audio(folder / f"clip{i}.wav", load_audio(EXAMPLES[i])) for i in range(GOOD)]
    (folder / "broken.wav").write_bytes(b"RIFF not really a wav")
    return folder, paths


def test_path_lists_and_resume_bookkeeping(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("# clips\n/a/one.wav\n\n  /b/two.flac  \n")
    assert read_path_list(listing) == ["/a/one.wav", "/b/two.flac"]
    out = tmp_path / "out.jsonl"
    out.write_text('{"path": "/a/one.wav", "label": "sad"}\n{"path": "/b/tw')  # crash mid-line
    assert done_paths(out) == {"/a/one.wav"}
    _end_last_line(out)
    assert out.read_text() == '{"path": "/a/one.wav", "label": "sad"}\n'


def test_ray_engine_checks_its_options(audio, tmp_path):
    folder, _ = audio
    result = runner.invoke(app, ["predict", str(folder), "--engine", "ray"])
    assert result.exit_code == 2 and "--output results.jsonl" in result.output
    result = runner.invoke(
        app, ["predict", str(folder), "--engine", "ray", "--output", str(tmp_path / "r.csv")]
    )
    assert result.exit_code == 1 and "must end in .jsonl or .parquet" in result.output
    result = runner.invoke(
        app, ["predict", str(folder), "--engine", "ray", "--output", "r.jsonl", "--plot", "p.png"]
    )
    assert result.exit_code == 2 and "--plot draws local predictions" in result.output
    result = runner.invoke(app, ["predict", str(folder), "--engine", "spark"])
    assert (
        result.exit_code == 2 and "Invalid value" in result.output and "--engine" in result.output
    )


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.vad
def test_ray_predicts_streams_and_resumes(local_ray, audio, tmp_path):
    folder, paths = audio
    listing = tmp_path / "list.txt"
    listing.write_text(f"{paths[0]}\n{tmp_path / 'gone.wav'}\n")  # a duplicate and a missing file
    out = tmp_path / "results.jsonl"
    args = ["predict", str(folder), "--from-list", str(listing), "--engine", "ray"]
    result = runner.invoke(app, [*args, "--output", str(out)])
    assert result.exit_code == 1, result.output  # broken.wav and gone.wav fail, per file
    assert "2 input(s) failed" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    by_name = {Path(r["path"]).name: r for r in rows}
    assert len(rows) == GOOD + 2 and set(by_name) == {p.name for p in paths} | {
        "broken.wav",
        "gone.wav",
    }
    assert "not a readable audio file" in by_name["broken.wav"]["error"]
    assert "file not found" in by_name["gone.wav"]["error"]

    # The same fields and numbers as local predict
    local = runner.invoke(app, ["predict", *map(str, paths), "--format", "json"])
    for expected in json.loads(local.output):
        got = by_name[Path(expected["path"]).name]
        assert set(got) == set(expected)
        assert got["label"] == expected["label"]
        assert got["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-4)

    # A crash after two files (the third line half-written): the rerun does only the rest
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][:20])
    result = runner.invoke(app, [*args, "--output", str(out)])
    assert f"predicted {GOOD} file(s)" in result.output, result.output
    assert "2 already in" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["path"] for r in rows) == sorted(by_name[n]["path"] for n in by_name)

    # Parquet: written at the end, complete, and a rerun finds nothing left to do
    import pyarrow.parquet as pq

    parquet = tmp_path / "results.parquet"
    runner.invoke(app, ["predict", str(folder), "--engine", "ray", "--output", str(parquet)])
    table = pq.read_table(parquet)
    assert table.num_rows == GOOD + 1
    assert set(table.column_names) == {
        "path",
        "label",
        "probabilities",
        "duration",
        "segments",
        "error",
    }
    assert not list(tmp_path.glob("*.partial.jsonl"))
    result = runner.invoke(
        app, ["predict", str(folder), "--engine", "ray", "--output", str(parquet)]
    )
    assert "predicted 0 file(s)" in result.output and f"{GOOD + 1} already in" in result.output
    assert pq.read_table(parquet).num_rows == GOOD + 1


def test_ray_refuses_what_it_cannot_honour(audio, tmp_path):
    folder, _ = audio
    args = ["predict", str(folder), "--engine", "ray", "--output", str(tmp_path / "r.jsonl")]
    for extra, message in (
        (["--top-k", "2"], "--top-k"),
        (["--adapt", "all"], "--adapt"),
        (["--format", "csv"], "leave out --format csv"),
    ):
        result = runner.invoke(app, [*args, *extra])
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.slow
@pytest.mark.vad
def test_ray_and_local_give_identical_rows_for_a_long_file(local_ray, tmp_path):
    import numpy as np

    gap = np.zeros(16_000 * 2, dtype=np.float32)
    talk = np.concatenate([gap, *(np.concatenate([load_audio(p), gap]) for p in EXAMPLES[:4])])
    path = write_audio(tmp_path / "talk.wav", talk)  # 24 s: longer than the model reads whole
    options = ["--min-confidence", "0.6", "--pause", "0.8"]
    out = tmp_path / "ray.jsonl"
    result = runner.invoke(app, ["predict", str(path), "--engine", "ray", "-o", str(out), *options])
    assert result.exit_code == 0, result.output
    [ray_row] = [json.loads(line) for line in out.read_text().splitlines()]
    local = runner.invoke(app, ["predict", str(path), "--format", "json", *options])
    [local_row] = json.loads(local.stdout)
    ray_row["path"] = local_row["path"]  # Ray reports the resolved path
    assert ray_row == local_row
    labels = [s["label"] for s in local_row["segments"]]
    assert "silence" in labels and "uncertain" in labels or len(set(labels)) > 1
