"""Hostile inputs: every bad file, path or setting gets one clear line, the right exit code
(2 for a bad option value, 1 for a failure), and leaves good outputs byte-identical."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic_runs import quick_config, small_run
from typer.testing import CliRunner

from ser_cli.audio.io import SAMPLE_RATE, load_audio, resample, write_audio
from ser_cli.audio.synthetic import synth_clip
from ser_cli.cli import app
from ser_cli.config import MAX_EPOCHS, load_run_config, parse_override
from ser_cli.data.manifest import read_manifest, write_manifest
from ser_cli.errors import ConfigError, ManifestError, OverrideError
from ser_cli.features.extract import FeatureCache, FeatureConfig, compute_features

runner = CliRunner()
TWO_EMOTIONS = ("happy", "sad")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def ser(*args: object, **kwargs):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"}, **kwargs)


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def one_error(result, code: int, *fragments: str) -> str:
    """The result failed with ``code`` and exactly one error line holding every fragment."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (temp files included) and its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.tmp")]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """24 half-second clips of two emotions, their manifest, and a trained classic run."""
    return small_run(tmp_path_factory.mktemp("edges"), TWO_EMOTIONS)


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_audio(tmp_path / "good.wav", synth_clip("happy", 1, duration=1.0))


# --- 1. settings: type- and range-checked when loaded ----------------------------------------


def test_scientific_notation_is_a_float():
    assert load_run_config(None, ["train.lr=1e-3"]).train.lr == pytest.approx(1e-3)
    assert load_run_config(None, ["train.epochs=2.0"]).train.epochs == 2


@pytest.mark.parametrize(
    "override, fragments",
    [
        ("train.epochs=1.5", ["train.epochs", "an integer", "1.5"]),
        ("train.epochs=abc", ["train.epochs", "an integer", "'abc'"]),
        ("train.batch_size=1", ["train.batch_size", "at least 2", "1"]),
        ("train.lr=-1", ["train.lr", "greater than 0", "-1"]),
        ("train.amp=maybe", ["train.amp", "true or false", "'maybe'"]),
        ("train.augment.snr_db=[30, 10]", ["train.augment.snr_db", "low <= high"]),
        ("train=3", ["train", "is a section"]),
        ("train.nope=1", ["train.nope", "unknown setting"]),
        ("features.n_mels=0", ["features.n_mels", "at least 1"]),
        ("epochs", ["section.key=value"]),
    ],
)
def test_bad_overrides_are_usage_errors_before_any_work(small, tmp_path, override, fragments):
    _, manifest, _ = small
    out = tmp_path / "run"
    result = ser("train", "--data", manifest, "--out", out, "--set", override)
    one_error(result, 2, *fragments)
    assert not out.exists()


@pytest.mark.parametrize(
    "content, fragments",
    [
        (b"train: [1, 2]\n", ["train", "expected a mapping", "a list"]),
        (b"- model: base\n", ["expected a mapping of settings"]),
        (b"train:\n  epochs: ten\n", ["train.epochs", "an integer", "'ten'"]),
        (b"train:\n  lr: 1e-3\n  batch_size: 1\n", ["train.batch_size", "at least 2"]),
        (b"model: \xff\xfe\x00base\n", ["not UTF-8"]),
        (b"features:\n  f_max: 12000\n", ["features.f_max", "8000 Hz"]),
    ],
)
def test_bad_config_files_fail_with_one_line(small, tmp_path, content, fragments):
    _, manifest, _ = small
    config = tmp_path / "run.yaml"
    config.write_bytes(content)
    result = ser("train", "--data", manifest, "--out", tmp_path / "run", "--config", config)
    one_error(result, 1, *fragments)
    assert not (tmp_path / "run").exists()


def test_a_config_yaml_lr_in_scientific_notation_loads(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("train:\n  lr: 1e-3\n  snr: null\n".replace("  snr: null\n", ""))
    assert load_run_config(config).train.lr == pytest.approx(1e-3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=1, max_value=MAX_EPOCHS))
def test_any_positive_integer_epochs_round_trips(n):
    assert parse_override(f"train.epochs={n}")[1] == n


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=1e-9, max_value=1e3, allow_nan=False))
def test_any_positive_float_lr_round_trips_in_any_notation(x):
    for text in (repr(x), f"{x:e}", f"{x:.3E}"):
        assert parse_override(f"train.lr={text}")[1] == pytest.approx(float(text))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=30))
def test_any_override_text_is_accepted_or_refused_with_a_config_error(text):
    try:
        load_run_config(None, [text])
    except ConfigError:
        pass


@settings(max_examples=80, deadline=None)
@given(
    st.one_of(st.text(max_size=10), st.floats(), st.booleans(), st.lists(st.integers(), max_size=3))
)
def test_integer_fields_refuse_anything_but_whole_numbers(value):
    text = json.dumps(value) if not isinstance(value, str) else value
    try:
        epochs = load_run_config(None, [f"train.epochs={text}"]).train.epochs
    except OverrideError:
        return
    assert isinstance(epochs, int) and epochs >= 1


# --- 2. resampling: soxr, one place -----------------------------------------------------------


def test_an_odd_rate_clip_loads_like_its_16k_twin(tmp_path):
    odd = 24_414
    a = write_audio(
        tmp_path / "odd.wav", synth_clip("angry", 2, duration=1.0, sample_rate=odd), odd
    )
    b = write_audio(tmp_path / "native.wav", synth_clip("angry", 2, duration=1.0))
    x, y = load_audio(a), load_audio(b)
    assert abs(len(x) - len(y)) <= 1
    n = min(len(x), len(y))
    assert np.corrcoef(x[:n], y[:n])[0, 1] > 0.95
    assert resample(np.zeros(0, np.float32), odd).size == 0


def test_a_1_hz_wav_is_refused_clearly(tmp_path):
    path = write_audio(tmp_path / "slow.wav", np.sin(np.arange(20)).astype(np.float32), 1)
    result = ser("predict", path, "--format", "json")
    assert result.exit_code == 1
    assert "sample rate 1 Hz is too low" in result.output


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=3000), st.sampled_from([".wav", ".mp3", ".flac", ".ogg"]))
def test_arbitrary_bytes_load_as_audio_or_fail_with_an_audio_error(tmp_path, data, suffix):
    from ser_cli.errors import AudioError

    path = tmp_path / f"x{suffix}"
    path.write_bytes(data)
    try:
        samples = load_audio(path)
    except AudioError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert samples.dtype == np.float32 and samples.ndim == 1


# --- 3. data safety ---------------------------------------------------------------------------


def test_failed_predict_never_replaces_a_good_output(tmp_path, clip):
    out = tmp_path / "out.json"
    assert ser("predict", clip, "-o", out).exit_code == 0  # format from the suffix
    good = out.read_bytes()
    assert json.loads(good)[0]["label"]
    junk = tmp_path / "junk.wav"
    junk.write_bytes(os.urandom(2000))
    result = ser("predict", junk, "-o", out)
    assert result.exit_code == 1 and "not writing" in result.stderr
    assert out.read_bytes() == good and not temp_files(tmp_path)


def test_predict_output_format_comes_from_the_suffix_or_is_refused(tmp_path, clip):
    csv_out = tmp_path / "out.csv"
    assert ser("predict", clip, "-o", csv_out).exit_code == 0
    assert csv_out.read_text().startswith("path,")
    one_error(ser("predict", clip, "-o", tmp_path / "out.txt"), 2, "-o", ".json, .csv")
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.parametrize("target", ["folder", "under_a_file"])
def test_predict_output_paths_are_checked_first(tmp_path, clip, target):
    (tmp_path / "folder").mkdir()
    (tmp_path / "blocker").write_text("x")
    out = {"folder": tmp_path / "folder", "under_a_file": tmp_path / "blocker" / "o.json"}[target]
    result = ser("predict", clip, "-o", out, "--format", "json")
    one_error(result, 1, str(out))
    assert (tmp_path / "blocker").read_text() == "x"


def test_listen_log_is_replaced_only_when_the_session_ends(tmp_path, clip, monkeypatch):
    log = tmp_path / "listen.csv"
    log.write_text("old,log\n1,2\n")

    def failing(*args, **kwargs):
        from ser_cli.errors import SerError

        raise SerError("the stream broke")
        yield  # pragma: no cover

    import ser_cli.listen.session as session

    with monkeypatch.context() as m:
        m.setattr(session, "iter_updates", failing)
        result = ser("listen", "--file", clip, "--speed", "0", "--log", log)
    one_error(result, 1, "the stream broke")
    assert log.read_text() == "old,log\n1,2\n" and not temp_files(tmp_path)
    result = ser("listen", "--file", clip, "--speed", "0", "--log", log)
    assert result.exit_code == 0, result.output
    assert log.read_text().startswith("time_s,is_speech,label") and not temp_files(tmp_path)


@pytest.fixture
def tiny_cnn(small, tmp_path):
    """A config file for a very small CNN trained for two epochs."""
    config = tmp_path / "tiny.yaml"
    cfg = quick_config("enhanced", epochs=2)
    config.write_text(
        yaml.safe_dump(
            {
                "model": "enhanced",
                "model_options": {"channels": [4, 8]},
                "train": {"epochs": 2, "batch_size": 8, "crop_frames": 40, "lr": cfg.train.lr},
            }
        )
    )
    return config


def test_resume_with_a_changed_recipe_is_refused_before_writing(small, tmp_path, tiny_cnn):
    _, manifest, _ = small
    out = tmp_path / "run"
    assert ser("train", "--data", manifest, "--out", out, "--config", tiny_cnn).exit_code == 0
    before = snapshot(out)
    for change in (
        ["--model", "base"],
        ["--set", "train.lr=1e-4"],
        ["--set", "features.n_mels=64"],  # the default is 40
    ):
        result = ser("train", "--data", manifest, "--out", out, "--resume", *change)
        one_error(result, 1, "changed recipe", "--out")
        assert snapshot(out) == before
    # the run's own settings are the base: leaving out --config changes nothing
    result = ser("train", "--data", manifest, "--out", out, "--resume", "--epochs", "3")
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["epoch"] for x in (out / "history.jsonl").read_text().splitlines()] == [
        1,
        2,
        3,
    ]


def test_a_truncated_history_line_does_not_break_resume(small, tmp_path, tiny_cnn):
    _, manifest, _ = small
    out = tmp_path / "run"
    assert ser("train", "--data", manifest, "--out", out, "--config", tiny_cnn).exit_code == 0
    history = out / "history.jsonl"
    history.write_text(history.read_text() + '{"epoch": 3, "train_lo')
    result = ser("train", "--data", manifest, "--out", out, "--resume", "--epochs", "3")
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["epoch"] for x in history.read_text().splitlines()] == [1, 2, 3]


def test_cv_resume_skips_finished_folds_and_continues_the_interrupted_one(
    small, tmp_path, tiny_cnn, monkeypatch
):
    import ser_cli.training.batchers as batchers

    _, manifest, _ = small
    out = tmp_path / "cv"
    real, calls = batchers.train_batch, {"n": 0}

    def interrupting(*args, **kwargs):  # Ctrl-C in the second fold's second epoch
        calls["n"] += 1
        if calls["n"] == calls.get("stop", 10**9):
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(batchers, "train_batch", interrupting)
    args = ["train", "--data", manifest, "--out", out, "--config", tiny_cnn, "--cv", "2"]
    assert ser(*args).exit_code == 0
    straight = json.loads((out / "cv.json").read_text())
    per_fold = calls["n"] // 2
    for child in list(out.iterdir()):
        import shutil

        shutil.rmtree(child) if child.is_dir() else child.unlink()
    calls.update(n=0, stop=per_fold + per_fold // 2 + 1)
    result = ser(*args)
    assert result.exit_code == 130 and "--resume" in result.stderr
    fold0 = snapshot(out / "fold0")
    calls.update(n=0, stop=10**9)
    result = ser(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert snapshot(out / "fold0") == fold0  # finished fold: not retrained
    assert calls["n"] < per_fold  # only the rest of fold 1 was trained
    resumed = json.loads((out / "cv.json").read_text())
    assert [f["fold"] for f in resumed["folds"]] == ["0", "1"]
    for a, b in zip(straight["folds"], resumed["folds"], strict=True):
        assert a["metrics"] == pytest.approx(b["metrics"], abs=1e-6)


def test_prepare_commits_both_files_or_neither_and_cleans_stale_temps(
    ravdess_corpus, tmp_path, monkeypatch
):
    import ser_cli.data.prepare as prepare

    root = ravdess_corpus(actors=range(1, 4), emotions=TWO_EMOTIONS)
    out = tmp_path / "out"
    assert ser("prepare", root, "--out", out, "--split", "random").exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    import hashlib

    manifest_bytes = (out / "manifest.csv").read_bytes()
    assert summary["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    before = snapshot(out)
    stale = out / ".manifest.csv.999999999.abcdef.tmp"  # left by a killed run (no such pid)
    stale.write_text("half")

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(prepare.json, "dumps", broken)
        result = ser("prepare", root, "--out", out, "--split", "random", "--seed", "3")
    assert result.exit_code != 0
    assert snapshot(out) == before  # the stale temp is gone, both outputs untouched
    assert not stale.exists() and not temp_files(out)


def test_prepare_lists_broken_links_and_pipes(ravdess_corpus, tmp_path):
    root = ravdess_corpus(actors=range(1, 4), emotions=TWO_EMOTIONS)
    link = root / "Actor_01" / "03-01-03-01-01-02-01.wav"
    link.symlink_to(root / "nowhere.wav")
    fifo = root / "Actor_02" / "03-01-03-01-01-02-02.wav"
    os.mkfifo(fifo)
    result = ser("prepare", root, "--out", tmp_path / "out", "--split", "random")
    assert result.exit_code == 0, result.output
    rejected = {
        Path(r["path"]).name: r["reason"]
        for r in json.loads((tmp_path / "out" / "summary.json").read_text())["rejected"]
    }
    assert "broken symbolic link" in rejected[link.name]
    assert "not a regular file" in rejected[fifo.name]


# --- 4. one bad clip never kills a batch; damaged cache entries -------------------------------


def test_one_bad_clip_never_costs_the_good_results(tmp_path, clip):
    click = np.zeros(int(0.5 * SAMPLE_RATE), np.float32)
    click[4000:4400] = 0.8  # 25 ms of sound: 3 frames after silence trimming
    short = write_audio(tmp_path / "click.wav", click)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(os.urandom(4000))
    result = ser("predict", clip, short, junk, "--format", "json")
    assert result.exit_code == 1
    items = {Path(i["path"]).name: i for i in json.loads(result.stdout)}
    assert items["good.wav"]["label"] and items["click.wav"]["label"]  # padded, classified
    assert "not a readable audio file" in items["junk.mp3"]["error"]
    assert "does not exist" not in result.output


@pytest.mark.parametrize("damage", ["empty", "truncated", "wrong_shape", "nan", "garbage"])
def test_damaged_cache_entries_are_recomputed(tmp_path, clip, damage):
    cfg = FeatureConfig()
    cache = FeatureCache(tmp_path / "cache", cfg)
    fresh = cache.get(clip)
    [entry] = list(cache.folder.glob("*.npy"))
    if damage == "empty":
        entry.write_bytes(b"")
    elif damage == "truncated":
        entry.write_bytes(entry.read_bytes()[:100])
    elif damage == "wrong_shape":
        np.save(entry, np.zeros((10, 3), np.float32))
    elif damage == "nan":
        np.save(entry, np.full_like(fresh, np.nan))
    else:
        entry.write_bytes(os.urandom(500))
    again = FeatureCache(tmp_path / "cache", cfg).get(clip)
    np.testing.assert_array_equal(again, compute_features(load_audio(clip), cfg))
    np.testing.assert_array_equal(np.load(entry), fresh)  # replaced by a good entry
    assert not temp_files(tmp_path / "cache")


# --- 5. outputs checked before the work -------------------------------------------------------


def test_train_out_that_is_a_file_fails_before_features(small, tmp_path, ser_home):
    _, manifest, _ = small
    target = tmp_path / "run"
    target.write_text("x")
    one_error(ser("train", "--data", manifest, "--out", target), 1, "--out is a file")
    assert not (ser_home / "features").exists()


def test_unwritable_ser_home_is_one_line(small, tmp_path, monkeypatch):
    _, manifest, _ = small
    home = tmp_path / "home_file"
    home.write_text("not a folder")
    monkeypatch.setenv("SER_HOME", str(home))
    result = ser("train", "--data", manifest, "--out", tmp_path / "run", "-m", "classic")
    one_error(result, 1, "SER_HOME")


def test_eval_writes_reports_only_where_asked(small, tmp_path, monkeypatch):
    _, manifest, run = small
    monkeypatch.chdir(tmp_path)
    before = snapshot(run)
    result = ser("eval", "--data", manifest, "--model", "default")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "ser-eval").exists() and "wrote" not in result.stdout
    result = ser("eval", "--data", manifest, "--model", run, "--out", tmp_path / "reports")
    assert result.exit_code == 0 and (tmp_path / "reports" / "report-test.json").exists()
    assert snapshot(run) == before
    (tmp_path / "f").write_text("x")
    one_error(ser("eval", "--data", manifest, "--model", run, "--out", tmp_path / "f"), 1, "--out")


def test_manifest_paths_resolve_against_its_folder_and_must_exist(small, tmp_path, monkeypatch):
    rows, _, _ = small
    folder = tmp_path / "m"
    folder.mkdir()
    rel = [{**r, "path": os.path.relpath(r["path"], folder)} for r in rows]
    manifest = write_manifest(rel, folder / "manifest.csv")
    monkeypatch.chdir(tmp_path)
    assert [r["path"] for r in read_manifest(manifest)] == [r["path"] for r in rows]
    write_manifest([*rel, {**rel[0], "path": "gone.wav"}], manifest)
    with pytest.raises(ManifestError, match="1 of 25 clip.*missing.*gone.wav"):
        read_manifest(manifest)


# --- 6. checkpoints, odd values, odd files ---------------------------------------------------


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda m: m.update(labels=[*m["labels"], "angry"]), "3 labels for a model with 2"),
        (lambda m: m.update(model_config=None), "'model_config' is null"),
        (lambda m: m.pop("train_config"), "lacks 'train_config'"),
        (lambda m: m["train_config"].pop("normalization"), "lacks 'normalization'"),
        (lambda m: m.update(format_version=99), "newer ser"),
        (lambda m: m["feature_config"].update(n_mels="many"), "features.n_mels"),
    ],
)
def test_damaged_sidecars_are_one_line(small, tmp_path, clip, edit, fragment):
    import shutil

    _, _, run = small
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    meta = json.loads((copy / "best.json").read_text())
    edit(meta)
    (copy / "best.json").write_text(json.dumps(meta))
    one_error(ser("predict", clip, "--model", copy), 1, fragment)


@pytest.mark.parametrize("window", ["nan", "0.05", "inf", "-1"])
def test_bad_windows_are_usage_errors(clip, window):
    one_error(ser("predict", clip, "--window", window), 2, "--window")


def test_labels_outside_the_eight_emotions_are_refused_by_train(small, tmp_path):
    rows, _, _ = small
    odd = [{**r, "label": "boredom" if i % 5 == 0 else r["label"]} for i, r in enumerate(rows)]
    spaced = [{**r, "label": r["label"].title() + " "} for r in rows]
    manifest = write_manifest(odd, tmp_path / "odd.csv")
    result = ser("train", "--data", manifest, "--out", tmp_path / "run", "-m", "classic")
    one_error(result, 1, "'boredom'", "8 emotions")
    assert not (tmp_path / "run").exists()
    assert {r["label"] for r in read_manifest(write_manifest(spaced, tmp_path / "s.csv"))} == set(
        TWO_EMOTIONS
    )


def test_fifos_are_refused_not_waited_on(tmp_path, small):
    _, manifest, _ = small
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    result = ser("predict", fifo, "--format", "json")
    assert result.exit_code == 1 and "not a regular file" in result.output
    config = tmp_path / "pipe.yaml"
    os.mkfifo(config)
    result = ser("train", "--data", manifest, "--out", tmp_path / "r", "--config", config)
    one_error(result, 1, "not a regular file")


@pytest.mark.skipif(IS_ROOT, reason="root reads any file")
def test_permission_denied_says_so(tmp_path, clip):
    clip.chmod(0)
    result = ser("predict", clip, "--format", "json")
    assert result.exit_code == 1 and "permission denied" in result.output


@pytest.mark.parametrize(
    "args, code",
    [
        (["prepare", "{corpus}", "--out", "{out}", "--dataset", "nope"], 2),
        (["prepare", "{corpus}", "--out", "{out}", "--folds", "1"], 2),
        (["listen", "--file", "{clip}", "--smoothing", "0"], 2),
        (["listen", "--file", "{clip}", "--speed", "-1"], 2),
        (["prepare", "{out}/missing", "--out", "{out}"], 1),
        (["predict", "{clip}", "--model", "{out}/missing"], 1),
    ],
)
def test_exit_codes_follow_click(ravdess_corpus, tmp_path, clip, args, code):
    corpus = ravdess_corpus(actors=range(1, 4), emotions=TWO_EMOTIONS)
    filled = [a.format(corpus=corpus, out=tmp_path / "o", clip=clip) for a in args]
    one_error(ser(*filled), code)


@pytest.mark.parametrize(
    "args, option",
    [
        (["prepare", "{corpus}", "--out", "{out}", "--split", "bogus"], "--split"),
        (["predict", "{clip}", "--adapt", "sideways"], "--adapt"),
        (["predict", "{clip}", "--format", "xml"], "--format"),
        (["eval", "--data", "{out}/m.csv", "--split", "bogus"], "--split"),
    ],
)
def test_fixed_choices_fail_with_clicks_usage_error(tmp_path, clip, args, option):
    filled = [a.format(corpus=tmp_path, out=tmp_path / "o", clip=clip) for a in args]
    result = ser(*filled)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Invalid value for" in result.output and option in result.output
