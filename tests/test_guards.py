"""The three mechanisms of issue 22, each through the cases a hostile user tried.

- the output guard (ser_cli.outputs): nothing a user owns is overwritten, run folders locked;
- the model metadata validator (ser_cli.models.metadata): what a model file says is checked
  against its weights before any audio is read;
- the config validator (ser_cli.config, ser_cli.validation): types, ranges, upper bounds and
  YAML alias bombs, with values cut short in the error.
Every failure is one line, the right exit code, and leaves the user's files byte-identical.
"""

from __future__ import annotations

import csv
import errno
import functools
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import synthetic_runs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic_runs import make_run, small_run
from typer.testing import CliRunner

from ser_cli.atomic import atomic_path, write_text
from ser_cli.audio.io import write_audio
from ser_cli.audio.synthetic import synth_clip
from ser_cli.cli import app
from ser_cli.config import load_run_config, read_config_file
from ser_cli.data.manifest import read_manifest, write_manifest
from ser_cli.errors import ConfigError, ManifestError, ModelError, OutputError, UsageError
from ser_cli.features.extract import FeatureConfig
from ser_cli.inference.evaluate import report_folders
from ser_cli.inference.ray_engine import _end_last_line, done_paths
from ser_cli.labels import EMOTIONS
from ser_cli.models.metadata import check_hub, check_onnx
from ser_cli.outputs import Output, check_outputs, run_lock
from ser_cli.paths import bundled_model_dir

runner = CliRunner()
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def ser(*args: object, env: dict | None = None):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200", **(env or {})})


def one_error(result, code: int, *fragments: str) -> str:
    """Failed with ``code``, no traceback, exactly one error line holding every fragment."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """24 half-second clips of two emotions, their manifest, and a trained classic run."""
    return small_run(tmp_path_factory.mktemp("guards"), ("happy", "sad"))


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_audio(tmp_path / "rec.wav", synth_clip("happy", 1, duration=1.0))


# --- 1. the output guard --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bundled copy", "ensemble"])
def test_train_never_replaces_a_model_folder(small, tmp_path, kind):
    _, manifest, _ = small
    if kind == "bundled copy":
        out = Path(shutil.copytree(bundled_model_dir(), tmp_path / "model"))
    else:
        runs = [make_run(tmp_path, "enhanced", s, stats_seed=0, name=f"s{s}") for s in (0, 1)]
        out = tmp_path / "ens"
        assert ser("ensemble", *runs, "--out", out).exit_code == 0
    before = snapshot(out)
    one_error(ser("train", "--data", manifest, "--out", out), 1, str(out), "already holds a")
    assert snapshot(out) == before


def test_the_output_guard_rules(tmp_path, clip):
    run = make_run(tmp_path, "enhanced", 0)
    (run / "old.onnx").write_bytes(b"x")
    (run / "notes.txt").write_text("mine")
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "target.json")
    with pytest.raises(UsageError, match="name the same path"):
        check_outputs([Output(tmp_path / "target.json", "-o"), Output(link, "--log")])
    with pytest.raises(OutputError, match="is a folder"):
        check_outputs([Output(run, "-o")])
    with pytest.raises(OutputError, match="existing .wav"):
        check_outputs([Output(clip, "--log", suffixes=(".csv",))])
    with pytest.raises(OutputError, match="a file of the input"):
        check_outputs([Output(run / "notes.txt", "--out")], [run])
    with pytest.raises(OutputError, match="already holds a model"):
        check_outputs([Output(run, "--out", folder=True, model=True)])
    # allowed: its own kind of file again, a model folder on --resume, plots beside a model
    check_outputs([Output(run / "old.onnx", "--out", suffixes=(".onnx",))], [run])
    check_outputs([Output(run, "--out", folder=True, model=True)], resume=True)
    check_outputs([Output(run, "--plot", folder=True)])


def test_a_run_folder_is_locked_while_written(small, tmp_path):
    _, manifest, _ = small
    out = tmp_path / "run"
    with run_lock(out):
        with pytest.raises(OutputError, match="another ser process"):
            with run_lock(out):
                pass
        one_error(ser("train", "--data", manifest, "--out", out), 1, "another ser process")
    with run_lock(out):  # released with the body
        pass
    assert not out.exists()  # created for the lock alone, and removed again


@pytest.mark.parametrize("command", ["train", "ensemble"])
def test_an_uncreatable_out_is_one_line(small, tmp_path, command):
    _, manifest, run = small
    out = Path("/proc/ser-test/run")
    if command == "train":
        result = ser("train", "--data", manifest, "--out", out)
    else:
        runs = [make_run(tmp_path, "enhanced", s, stats_seed=0, name=f"s{s}") for s in (0, 1)]
        result = ser("ensemble", *runs, "--out", out)
    one_error(result, 1, str(out))


def test_listen_never_logs_over_its_recording(clip):
    before = clip.read_bytes()
    one_error(ser("listen", "--file", clip, "--speed", "0", "--log", clip), 1, "inputs")
    assert clip.read_bytes() == before


def test_listen_refuses_a_window_too_short_to_classify(clip):
    result = ser("listen", "--file", clip, "--speed", "0", "--window", "0.05", "--hop", "0.05")
    one_error(result, 2, "at least 0.25")


def test_prepare_never_overwrites_its_input_list(small, tmp_path):
    rows, _, _ = small
    folder = tmp_path / "list"
    listing = folder / "manifest.csv"
    folder.mkdir()
    listing.write_text("path,label\n" + "".join(f"{r['path']},{r['label']}\n" for r in rows))
    before = listing.read_bytes()
    one_error(ser("prepare", listing, "--out", folder), 1, "inputs")
    assert listing.read_bytes() == before


def test_a_prepare_stopped_between_its_renames_is_reported_by_train_and_eval(
    small, ravdess_corpus, tmp_path
):
    _, _, run = small
    corpus, out = ravdess_corpus(), tmp_path / "prepared"
    assert ser("prepare", corpus, "--out", out).exit_code == 0
    old_manifest = (out / "manifest.csv").read_bytes()
    assert ser("prepare", corpus, "--out", out, "--seed", "3").exit_code == 0
    # Killed after summary.json was renamed, before manifest.csv: the old list, the new summary.
    (out / "manifest.csv").write_bytes(old_manifest)
    note = "does not describe"
    evaluated = ser("eval", "--model", run, "--data", out, "--split", "all")
    assert note in evaluated.stderr
    trained = ser("train", "--data", out, "--model", "classic", "--out", tmp_path / "r")
    assert note in trained.stderr
    assert ser("prepare", corpus, "--out", out, "--seed", "3").exit_code == 0  # rerun mends it
    again = ser("eval", "--model", run, "--data", out, "--split", "all")
    assert note not in again.stderr


def test_export_requires_onnx_and_never_writes_over_its_run(small, tmp_path):
    run = make_run(tmp_path, "enhanced", 0)
    before = snapshot(run)
    one_error(ser("export", run, "--out", run / "best.safetensors"), 2, ".onnx")
    assert snapshot(run) == before


def test_eval_gives_same_named_models_their_own_report_folders(small, tmp_path):
    _, manifest, run = small
    a = shutil.copytree(run, tmp_path / "a" / "enh")
    b = shutil.copytree(run, tmp_path / "b" / "enh")
    assert report_folders([str(a), str(b), str(a)]) == ["a-enh", "b-enh", "a-enh-2"]
    result = ser("eval", "--model", a, "--model", b, "--data", manifest, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "a-enh" / "report-test.json").exists()
    assert (tmp_path / "r" / "b-enh" / "report-test.json").exists()


def test_a_corrupt_second_model_fails_before_any_audio(small, tmp_path):
    _, manifest, run = small
    bad = shutil.copytree(run, tmp_path / "bad")
    (bad / "best.safetensors").write_bytes(b"garbage")
    out = tmp_path / "reports"
    one_error(ser("eval", "--model", run, "--model", bad, "--data", manifest, "--out", out), 1)
    assert not out.exists() or not any(out.rglob("*.json"))


def test_predict_checks_plot_before_predicting(clip, tmp_path):
    one_error(ser("predict", clip, "--plot", tmp_path / "t.jpg"), 2, ".png")
    assert not (tmp_path / "t.jpg").exists()
    (tmp_path / "file").write_text("")
    one_error(ser("predict", clip, "--plot", tmp_path / "file" / "t.png"), 1, "is a file")


def test_a_full_disk_keeps_the_old_file(tmp_path):
    target = write_text(tmp_path / "out.json", "old\n")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match="No space left.*old file is kept"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            full()
    assert target.read_text() == "old\n" and not list(tmp_path.glob(".*.tmp"))


def test_checkpoints_get_the_users_umask(tmp_path):
    old = os.umask(0o022)
    try:
        run = make_run(tmp_path, "enhanced", 0)
    finally:
        os.umask(old)
    for name in ("best.safetensors", "best.json"):
        assert (run / name).stat().st_mode & 0o777 == 0o644, name


def test_torchrun_ranks_other_than_0_stay_quiet(tmp_path):
    result = ser(
        "train", "--data", tmp_path / "none.csv", "--out", tmp_path / "r", env={"RANK": "1"}
    )
    assert result.exit_code == 1 and "error" not in result.output
    one_error(ser("train", "--data", tmp_path / "none.csv", "--out", tmp_path / "r"), 1)


# --- the Ray engine's output ------------------------------------------------------------------


def test_ray_resume_keeps_a_complete_row_without_its_newline(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"path": "/a.wav", "label": "sad"}\n{"path": "/b.wav", "label": "happy"}')
    assert done_paths(out) == {"/a.wav", "/b.wav"}
    _end_last_line(out)
    assert out.read_text().endswith('"happy"}\n')  # kept, and the next append starts fresh
    out.write_text('{"path": "/a.wav"}\n{"path": "/b.w')  # cut by a crash: predicted again
    assert done_paths(out) == {"/a.wav"}
    _end_last_line(out)
    assert out.read_text() == '{"path": "/a.wav"}\n'


@pytest.mark.parametrize("kind", ["folder", "not utf-8", "unwritable"])
def test_ray_output_problems_are_one_line_before_ray_starts(clip, tmp_path, kind, monkeypatch):
    import ser_cli.inference.ray_engine as engine

    monkeypatch.setattr(engine, "_init_ray", lambda *a: pytest.fail("Ray started"))
    out = tmp_path / "out.jsonl"
    if kind == "folder":
        out.mkdir()
    elif kind == "not utf-8":
        out.write_bytes(b'{"path": "\xff\xfe"}\n')
    else:
        if IS_ROOT:
            pytest.skip("root writes anywhere")
        (tmp_path / "ro").mkdir(mode=0o500)
        out = tmp_path / "ro" / "out.jsonl"
    one_error(ser("predict", clip, "--engine", "ray", "-o", out), 1, str(out))


def test_ray_actors_are_capped_by_files_and_cpus(clip, tmp_path, monkeypatch):
    import ser_cli.inference.ray_engine as engine

    seen = {}

    def fake_run(ray, todo, model, actors, *rest):
        seen["actors"] = actors
        return iter([])

    monkeypatch.setattr(engine, "_init_ray", lambda *a: None)
    monkeypatch.setattr(engine, "_run", fake_run)
    summary = engine.predict_with_ray("default", [clip], tmp_path / "o.jsonl", actors=64)
    assert seen["actors"] == 1 and summary.actors == 1 and summary.requested_actors == 64


# --- 2. the model metadata validator --------------------------------------------------------

GOOD_ONNX = {
    "labels": list(EMOTIONS),
    "feature_config": FeatureConfig().to_dict(),
    "global_mean": [0.0] * 40,
    "global_std": [1.0] * 40,
    "max_eval_frames": 800,
    "min_frames": 16,
    "temperature": 1.5,
    "normalization": "speaker",
    "model": "enhanced",
}


@pytest.mark.parametrize(
    "edit, fragment",
    [
        ({"labels": list(EMOTIONS[:7])}, "7 labels for a model with 8 outputs"),
        ({"labels": [*EMOTIONS[:7], "sad"]}, "twice"),
        ({"temperature": "abc"}, "temperature"),
        ({"temperature": 0}, "temperature"),
        ({"temperature": float("inf")}, "temperature"),
        ({"global_std": [0.0] * 40}, "std"),
        ({"global_mean": ["x"] * 40}, "mean"),
        ({"global_mean": [float("nan")] * 40}, "not finite"),
        ({"global_mean": [0.0] * 7}, "7 values for 40"),
        ({"max_eval_frames": 0}, "max_eval_frames"),
        ({"feature_config": {**FeatureConfig().to_dict(), "n_mels": 10**9}}, "n_mels"),
    ],
)
def test_onnx_metadata_that_does_not_fit_is_one_line_naming_the_file(edit, fragment):
    with pytest.raises(ModelError, match=r"^m\.onnx: ") as caught:
        check_onnx({**GOOD_ONNX, **edit}, 8, 40, "m.onnx")
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    assert len(str(caught.value)) < 300


def tiny_onnx(path: Path, meta: dict, outputs: int = 8, declared: bool = True) -> Path:
    """An ONNX classifier (mean over time, then a matrix) with ``meta`` as its ser metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).normal(size=(40, outputs)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["x"], ["m"], axes=[1], keepdims=0),
            helper.make_node("MatMul", ["m", "w"], ["logits"]),
        ],
        "tiny",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "frames", 40]),
            helper.make_tensor_value_info("mask", TensorProto.BOOL, ["batch", "frames"]),
        ],
        [
            helper.make_tensor_value_info(
                "logits", TensorProto.FLOAT, ["batch", outputs if declared else "classes"]
            )
        ],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    full = {"format": "ser-onnx", "format_version": 1, **meta}
    for key, value in full.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"ser.{key}", json.dumps(value)
    onnx.save_model(model, str(path))
    return path


def test_an_onnx_file_with_7_labels_for_8_outputs_fails_before_any_audio(clip, tmp_path, small):
    _, manifest, _ = small
    bad = tiny_onnx(tmp_path / "bad.onnx", {**GOOD_ONNX, "labels": list(EMOTIONS[:7])})
    for args in (["predict", clip], ["listen", "--file", clip, "--speed", "0"]):
        one_error(ser(*args, "--model", bad), 1, str(bad), "7 labels")
    one_error(ser("eval", "--model", bad, "--data", manifest), 1, str(bad), "7 labels")
    # a graph that leaves its output size open is measured once on silence
    meta = {**GOOD_ONNX, "labels": list(EMOTIONS[:7])}
    open_ = tiny_onnx(tmp_path / "open.onnx", meta, declared=False)
    one_error(ser("predict", clip, "--model", open_), 1, str(open_), "7 labels")


def test_onnx_eval_applies_reports_and_lists_per_file_with_its_temperature(small, tmp_path):
    rows, manifest, _ = small
    labels = ["happy", "sad"]
    model = tiny_onnx(tmp_path / "t.onnx", {**GOOD_ONNX, "labels": labels, "temperature": 20.09}, 2)
    result = ser("eval", "--model", model, "--data", manifest, "--json", "--per-file")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["calibration"]["temperature"] == pytest.approx(20.09)
    tested = [r for r in rows if r["split"] == "test"]
    assert len(report["predictions"]) == len(tested)
    first = report["predictions"][0]["probabilities"]
    assert set(first) == set(labels) and max(first.values()) < 0.9  # T=20 flattens


@pytest.mark.parametrize(
    "id2label, outputs, fragment",
    [
        ({}, 2, "id2label"),
        ({0: "happy", 1: "happy"}, 2, "twice"),
        ({0: "happy", 1: "sad"}, 3, "2 labels for a model with 3"),
        ({0: "happy", 2: "sad"}, 2, "0..1"),
    ],
)
def test_hub_labels_are_checked_against_the_head(id2label, outputs, fragment):
    with pytest.raises(ModelError, match=fragment):
        check_hub(id2label, outputs, "owner/name")


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda m: m["train_config"].update(max_eval_frames=0), "max_eval_frames"),
        (lambda m: m.update(calibration={"temperature": 0}), "temperature"),
        (lambda m: m.update(labels=["happy"] * 8), "twice"),
    ],
)
def test_a_sidecar_that_does_not_fit_names_the_model_file(tmp_path, clip, edit, fragment):
    run = make_run(tmp_path, "enhanced", 0)
    meta = json.loads((run / "best.json").read_text())
    edit(meta)
    (run / "best.json").write_text(json.dumps(meta))
    one_error(ser("predict", clip, "--model", run), 1, str(run), fragment)


def test_an_ensemble_of_other_n_mels_or_one_run_twice_is_one_line(tmp_path, monkeypatch):
    a = make_run(tmp_path, "enhanced", 0, stats_seed=0, name="a")
    monkeypatch.setattr(
        synthetic_runs, "FeatureConfig", functools.partial(FeatureConfig, n_mels=32)
    )
    b = make_run(tmp_path, "enhanced", 1, stats_seed=0, name="b")
    one_error(ser("ensemble", a, b, "--out", tmp_path / "e"), 1, "feature_config")
    (tmp_path / "x").mkdir()
    twice = tmp_path / "x" / ".." / "a"
    one_error(ser("ensemble", a, twice, "--out", tmp_path / "e"), 1, "two or more run folders")


# --- 3. the config validator ----------------------------------------------------------------

BOMB = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x]"]
    + [
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)


@pytest.mark.parametrize("where", ["features.n_mels", "model_options", "set"])
def test_yaml_alias_bombs_are_refused_at_once(small, tmp_path, where):
    _, manifest, _ = small
    config = tmp_path / "bomb.yaml"
    if where == "set":
        levels = ["&a [1,1,1,1,1,1,1,1,1]"] + [
            f"&{c} [{','.join(['*' + p] * 9)}]" for p, c in zip("abcd", "bcde", strict=True)
        ]
        args = ["--set", f"features.n_mels=[{', '.join(levels)}, [{','.join(['*e'] * 9)}]]"]
    else:
        body = "\n".join("    " + line for line in BOMB.splitlines())
        key = "features:\n  n_mels:" if where == "features.n_mels" else "model_options:\n  x:"
        config.write_text(f"{key}\n{body}\n")
        args = ["--config", config]
    started = time.perf_counter()
    result = ser("train", "--data", manifest, "--out", tmp_path / "r", *args)
    line = one_error(result, 2 if where == "set" else 1, "expand")
    assert time.perf_counter() - started < 5 and len(line) < 200


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("train.seed=99999999999999999999", "train.seed"),
        ("features.n_mels=1000000000", "at most 512"),
        ("train.max_eval_frames=0", "at least 1"),
        ("train.epochs=" + "9" * 400, "..."),
    ],
)
def test_values_are_range_checked_with_upper_bounds(small, tmp_path, override, fragment):
    _, manifest, _ = small
    line = one_error(
        ser("train", "--data", manifest, "--out", tmp_path / "r", "--set", override), 2
    )
    assert fragment in line and len(line) < 200


@pytest.mark.parametrize(
    "option, fragment",
    [
        ("channels=abc", "model_options.channels"),
        ("channels=[100000000]", "between 1 and"),
        ("dropout=5", "model_options.dropout"),
        ("utterance_norm=bogus", "utterance_norm"),
    ],
)
def test_model_option_values_are_checked_before_any_work(small, tmp_path, option, fragment):
    _, manifest, _ = small
    out = tmp_path / "r"
    result = ser("train", "--data", manifest, "--out", out, "-m", "enhanced", "--set",
                 f"model_options.{option}")  # fmt: skip
    one_error(result, 1, fragment)
    assert not out.exists()


def test_a_failed_resume_leaves_config_yaml_alone(small, tmp_path):
    rows, manifest, _ = small
    out = tmp_path / "run"
    assert ser("train", "--data", manifest, "--out", out, "-m", "enhanced", "--set",
               "model_options.channels=[4,8]", "--epochs", "1", "--set", "train.crop_frames=40",
               "--set", "train.batch_size=8").exit_code == 0  # fmt: skip
    (out / "last.optim.safetensors").write_bytes(b"garbage")
    before = (out / "config.yaml").read_bytes()
    result = ser("train", "--data", manifest, "--out", out, "--resume", "--epochs", "2")
    assert result.exit_code != 0
    assert (out / "config.yaml").read_bytes() == before


def test_a_manifest_with_a_bom_and_a_clip_in_two_splits(small, tmp_path):
    rows, _, run = small
    path = tmp_path / "bom.csv"
    text = Path(write_manifest(rows, tmp_path / "plain.csv")).read_text(encoding="utf-8")
    path.write_text("\ufeff" + text, encoding="utf-8")
    assert len(read_manifest(path)) == len(rows)
    train = next(r for r in rows if r["split"] == "train")
    twice = write_manifest([*rows, {**train, "split": "test"}], tmp_path / "twice.csv")
    result = ser("eval", "--model", run, "--data", twice)
    assert result.exit_code == 0 and "more than one split" in result.stderr


# --- 6. property: random hostile input is refused in one line, or works ------------------

KEYS = ["train.epochs", "train.seed", "train.lr", "features.n_mels", "train.augment.rt60",
        "model_options.channels", "model_options.dropout", "train.normalization"]  # fmt: skip
VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12).filter(lambda t: "\n" not in t),
    st.lists(st.integers(-5, 5000), max_size=4).map(str),
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(KEYS), VALUES)
def test_any_override_is_refused_in_one_line_or_builds(key, value):
    from ser_cli.models import check_model_options

    try:
        cfg = load_run_config(None, [f"{key}={value}"], model="enhanced")
        check_model_options(cfg.model, cfg.model_options)
    except (ConfigError, ModelError) as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 400
        return
    assert 1 <= cfg.features.n_mels <= 512 and 0 <= cfg.train.seed < 2**32


CELLS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(CELLS, CELLS, CELLS), max_size=4), st.booleans())
def test_any_manifest_rows_are_read_or_refused_in_one_line(tmp_path_factory, rows, real):
    folder = tmp_path_factory.mktemp("m")
    clip = write_audio(folder / "c.wav", synth_clip("sad", 0, duration=0.5))
    path = folder / "manifest.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "speaker"])
        writer.writerows([(str(clip) if real else p, lab, s) for p, lab, s in rows])
    try:
        read = read_manifest(path)
    except ManifestError as exc:
        assert "\n" not in str(exc)
        return
    assert all(Path(r["path"]).exists() and r["label"] in EMOTIONS for r in read)


META_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(), st.text(max_size=6),
    st.lists(st.floats(), max_size=3), st.lists(st.sampled_from(EMOTIONS), max_size=9),
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.sampled_from(sorted(GOOD_ONNX)), META_VALUES, max_size=3))
def test_any_onnx_metadata_is_refused_in_one_line_or_valid(edit):
    try:
        meta = check_onnx({**GOOD_ONNX, **edit}, 8, 40, "m.onnx")
    except ModelError as exc:
        assert str(exc).startswith("m.onnx: ") and "\n" not in str(exc)
        return
    assert len(set(meta["labels"])) == 8 and np.isfinite(meta["temperature"])
    assert meta["temperature"] > 0 and np.all(meta["global_std"] > 0)
    assert meta["max_eval_frames"] >= 1 and meta["min_frames"] >= 1


def test_bad_config_files_stay_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: &a [*a]\n")
    with pytest.raises(ConfigError):
        read_config_file(path)


@pytest.mark.parametrize("damage", ["garbage weights", "empty id2label"])
def test_a_damaged_hub_folder_is_one_line(tmp_path, clip, damage):
    transformers = pytest.importorskip("transformers")
    from synthetic_runs import TINY_ENCODER

    folder = tmp_path / "hub"
    config = transformers.Wav2Vec2Config(
        **TINY_ENCODER, num_labels=2, id2label={0: "happy", 1: "sad"},
        architectures=["Wav2Vec2ForSequenceClassification"],
    )  # fmt: skip
    transformers.Wav2Vec2ForSequenceClassification(config).save_pretrained(folder)
    if damage == "garbage weights":
        (folder / "model.safetensors").write_bytes(b"garbage" * 100)
    else:
        data = json.loads((folder / "config.json").read_text())
        data["id2label"], data["label2id"] = {}, {}
        (folder / "config.json").write_text(json.dumps(data))
    one_error(ser("predict", clip, "--model", folder), 1, str(folder))


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.sampled_from(sorted(GOOD_ONNX)), META_VALUES, max_size=2))
def test_predict_with_any_onnx_metadata_fails_in_one_line_or_gives_probabilities(
    tmp_path_factory, edit
):
    folder = tmp_path_factory.mktemp("onnx")
    clip = write_audio(folder / "c.wav", synth_clip("sad", 0, duration=1.0))
    model = tiny_onnx(folder / "m.onnx", {**GOOD_ONNX, **edit})
    result = ser("predict", clip, "--model", model, "--format", "json")
    if result.exit_code != 0:
        one_error(result, result.exit_code, str(model))
        return
    probs = json.loads(result.stdout)[0]["probabilities"]
    assert len(probs) == 8 and abs(sum(probs.values()) - 1) < 1e-4
    assert all(np.isfinite(v) and 0 <= v <= 1 for v in probs.values())
