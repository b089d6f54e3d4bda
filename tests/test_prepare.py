"""`ser prepare` and prepare_corpus: manifests, rejected files, splits, errors, real data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from ser_cli.cli import app
from ser_cli.data.manifest import MANIFEST_NAME, STANDARD_COLUMNS, SUMMARY_NAME, read_manifest
from ser_cli.data.prepare import prepare_corpus
from ser_cli.data.splits import RANDOM_SPLIT_WARNING
from ser_cli.errors import DatasetError
from ser_cli.labels import EMOTIONS

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_16K = SHARED_DATA / "ravdess-speech-16k"
REAL_48K = SHARED_DATA / "ravdess-speech-48k-sample"
STEREO_CLIP = "03-01-02-01-01-02-01.wav"
PREPARE_BUDGET_S = 30.0  # the limit for validating 1,200 clips on 2 cores

runner = CliRunner()


def ser(*args: object):
    """Run `ser` with a wide console, so table cells are not wrapped mid-word."""
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


# --- the manifest ------------------------------------------------------------------------


def test_ravdess_manifest_has_standard_and_corpus_columns(ravdess_corpus, tmp_path):
    root = ravdess_corpus()
    result = prepare_corpus(root, tmp_path / "out")
    assert result.dataset == "ravdess"
    assert result.manifest_path == tmp_path / "out" / MANIFEST_NAME
    rows = read_manifest(result.manifest_path)
    assert len(rows) == len(result.rows) == 6 * len(EMOTIONS)
    header = list(rows[0])
    assert header[:9] == [c for c in STANDARD_COLUMNS if c != "fold"]
    assert {"intensity", "statement", "repetition", "vocal_channel", "modality"} <= set(header)
    first = rows[0]
    assert Path(first["path"]).is_absolute() and Path(first["path"]).exists()
    assert (first["label"], first["speaker"], first["gender"]) == ("neutral", "01", "male")
    assert (first["corpus"], first["sample_rate"], first["channels"]) == ("ravdess", "16000", "1")
    assert float(first["duration"]) == pytest.approx(0.5)
    assert [r["path"] for r in rows] == sorted(r["path"] for r in rows)
    assert [str(r["path"]) for r in result.rows] == [r["path"] for r in rows]


def test_summary_counts_splits_and_lists_nothing_rejected(ravdess_corpus, tmp_path):
    result = prepare_corpus(ravdess_corpus(), tmp_path / "out")
    summary = json.loads((tmp_path / "out" / SUMMARY_NAME).read_text())
    assert summary == result.summary
    assert summary["clips"] == 48 and summary["speakers"] == [f"0{a}" for a in range(1, 7)]
    assert summary["rejected"] == [] and result.rejected == []
    for split in ("train", "val", "test"):
        assert set(summary["splits"][split]["emotions"]) == set(EMOTIONS)
    assert [len(summary["splits"][s]["speakers"]) for s in ("train", "val", "test")] == [4, 1, 1]


def test_48k_stereo_wav_and_flac_are_read_as_stored(ravdess_corpus, write_clip, tmp_path):
    root = ravdess_corpus(actors=(1, 2, 3), emotions=("happy", "sad"), sample_rate=48_000)
    write_clip(root / "Actor_01" / STEREO_CLIP, "calm", sample_rate=48_000, channels=2)
    write_clip(root / "Actor_02" / "03-01-02-01-01-02-02.flac", "calm", sample_rate=22_050)
    rows = {Path(r["path"]).name: r for r in prepare_corpus(root, tmp_path / "out").rows}
    assert len(rows) == 8
    assert (rows[STEREO_CLIP]["channels"], rows[STEREO_CLIP]["sample_rate"]) == (2, 48_000)
    assert rows["03-01-02-01-01-02-02.flac"]["sample_rate"] == 22_050
    assert rows["03-01-03-01-01-01-01.wav"]["channels"] == 1


@pytest.mark.parametrize(
    "factory, options, args, dataset, clips",
    [
        ("ravdess_corpus", {"flat": True, "suffix": ".flac"}, [], "ravdess", 48),
        ("cremad_corpus", {}, [], "cremad", 24),
        ("tess_corpus", {}, ["--split", "random"], "tess", 14),
        ("savee_corpus", {"nested": True}, [], "savee", 28),
        ("emodb_corpus", {}, [], "emodb", 24),
        ("folders_corpus", {}, [], "folders", 32),
        ("csv_corpus", {}, [], "csv", 12),
    ],
)
def test_cli_prepares_each_corpus(request, tmp_path, factory, options, args, dataset, clips):
    root = request.getfixturevalue(factory)(**options)
    result = ser("prepare", root, "--out", tmp_path / "out", *args)
    assert result.exit_code == 0, result.output
    assert f"{dataset}: {clips} clips" in result.output
    assert "clips per emotion and split" in result.output
    rows = read_manifest(tmp_path / "out")
    assert len(rows) == clips and {r["corpus"] for r in rows} == {dataset}


def test_emodb_boredom_is_listed_as_unmapped(emodb_corpus, tmp_path):
    result = ser("prepare", emodb_corpus(), "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "rejected files (4)" in result.output
    assert "03a01La.wav" in result.output and "unmapped emotion" in result.output


def test_explicit_dataset_name_skips_detection(cremad_corpus, tmp_path):
    result = prepare_corpus(cremad_corpus(), tmp_path / "out", dataset="CREMA-D")
    assert result.dataset == "cremad"
    assert {r["intensity"] for r in result.rows} == {"unspecified"}


# --- files that cannot be used -------------------------------------------------------------


def _bad_files(root: Path) -> dict[str, str]:
    """Write unusable audio under RAVDESS names (actor 07); return name -> expected reason."""
    folder = root / "Actor_07"
    folder.mkdir(parents=True)
    rate = 16_000
    (folder / "03-01-01-01-01-01-07.wav").write_bytes(b"RIFF\x00\x00not really a wave file")
    sf.write(folder / "03-01-02-01-01-01-07.wav", np.zeros(rate // 2, np.float32), rate)
    sf.write(folder / "03-01-03-01-01-01-07.wav", np.full(rate // 10, 0.3, np.float32), rate)
    nan = np.full(rate // 2, 0.3, np.float32)
    nan[100] = np.nan
    sf.write(folder / "03-01-04-01-01-01-07.wav", nan, rate, subtype="FLOAT")
    sf.write(folder / "03-01-05-01-01-01-07.wav", np.zeros(0, np.float32), rate)
    (folder / "03-01-06-01-01-01-07.wav.bak").write_text("a backup, not audio")
    (root / "Actor_01" / "take 2 [final].wav").write_bytes(b"")
    return {
        "03-01-01-01-01-01-07.wav": "not a readable audio file",
        "03-01-02-01-01-01-07.wav": "the audio is silent",
        "03-01-03-01-01-01-07.wav": "too short (0.100 s)",
        "03-01-04-01-01-01-07.wav": "NaN or infinite samples",
        "03-01-05-01-01-01-07.wav": "holds no audio",
        "take 2 [final].wav": "not a RAVDESS name",
    }


def test_bad_audio_and_foreign_names_are_rejected_with_reasons(ravdess_corpus, tmp_path):
    root = ravdess_corpus()
    expected = _bad_files(root)
    result = prepare_corpus(root, tmp_path / "out")
    assert len(result.rows) == 48
    reasons = {r.path.name: r.reason for r in result.rejected}
    assert set(reasons) == set(expected)
    for name, reason in expected.items():
        assert reason in reasons[name], (name, reasons[name])
        assert not reasons[name].startswith("/"), "the path is shown once, not in the reason"
    assert result.summary["ignored_non_audio_files"] == 1
    assert len(result.summary["rejected"]) == 6


def test_cli_lists_rejected_files_and_still_succeeds(ravdess_corpus, tmp_path):
    root = ravdess_corpus()
    expected = _bad_files(root)
    result = ser("prepare", root, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "rejected files (6)" in result.output
    for name, reason in expected.items():
        assert name in result.output and reason in result.output


def test_no_usable_clip_is_an_error_naming_the_reasons(ravdess_corpus, tmp_path):
    result = ser("prepare", ravdess_corpus(), "--out", tmp_path / "out", "--dataset", "cremad")
    assert result.exit_code == 1
    assert (
        "no usable clips: all 48 audio files were rejected when read as 'cremad'" in result.output
    )
    assert "not a CREMA-D name" in result.output and "Check --dataset" in result.output
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()


# --- splits through prepare ----------------------------------------------------------------


def test_same_inputs_and_seed_give_a_byte_identical_manifest(ravdess_corpus, tmp_path):
    root = ravdess_corpus()
    for out in ("a", "b"):
        assert ser("prepare", root, "--out", tmp_path / out, "--folds", "3").exit_code == 0
    first = (tmp_path / "a" / MANIFEST_NAME).read_bytes()
    assert first == (tmp_path / "b" / MANIFEST_NAME).read_bytes()
    seeds = set()
    for seed in range(4):
        seeds.add(prepare_corpus(root, tmp_path / "c", seed=seed).manifest_path.read_bytes())
    assert len(seeds) > 1


def test_rerun_overwrites_atomically(ravdess_corpus, tmp_path):
    root, out = ravdess_corpus(), tmp_path / "out"
    prepare_corpus(root, out, folds=2)
    assert "fold" in read_manifest(out)[0]
    prepare_corpus(root, out)
    assert "fold" not in read_manifest(out)[0]
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, SUMMARY_NAME]


def test_cli_speaker_overrides_and_folds(ravdess_corpus, tmp_path):
    args = ["--test-speakers", "1,2", "--val-speakers", "03", "--folds", "2"]
    result = ser("prepare", ravdess_corpus(), "--out", tmp_path / "out", *args)
    assert result.exit_code == 0, result.output
    rows = read_manifest(tmp_path / "out")
    assert {r["speaker"] for r in rows if r["split"] == "test"} == {"01", "02"}
    assert {r["speaker"] for r in rows if r["split"] == "val"} == {"03"}
    assert {r["fold"] for r in rows} == {"0", "1"}
    assert "speakers per fold" in result.output


def test_cli_random_split_warns_that_it_leaks_speakers(ravdess_corpus, tmp_path):
    result = ser("prepare", ravdess_corpus(), "--out", tmp_path / "out", "--split", "random")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr
    assert "same speaker in train, val and test" in result.stderr
    prepared = prepare_corpus(ravdess_corpus(name="again"), tmp_path / "out2", split="random")
    assert prepared.warnings[0] == RANDOM_SPLIT_WARNING
    assert prepared.summary["warnings"] == prepared.warnings


def test_progress_is_reported_per_file(ravdess_corpus, tmp_path):
    calls = []
    prepare_corpus(
        ravdess_corpus(actors=(1, 2, 3)), tmp_path / "out", on_progress=lambda *a: calls.append(a)
    )
    assert [c[0] for c in calls] == list(range(1, 25))
    assert {c[1] for c in calls} == {24}
    assert calls[0][2].endswith(".wav")


# --- every bad input ------------------------------------------------------------------------


@pytest.fixture
def small_ravdess(ravdess_corpus):
    return ravdess_corpus(actors=(1, 2, 3, 4), emotions=("happy", "sad"))


# Exit 2 (click's usage error) where the option's value alone is wrong; 1 where it does not
# fit this corpus.
@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--dataset", "iemocap"], 2, "unknown dataset 'iemocap'; use one of: auto, ravdess"),
        (["--folds", "1"], 2, "--folds 1: ask for 2 or more folds"),
        (["--folds", "5"], 1, "--folds 5 needs at least 5 speakers; this corpus has 4"),
        (["--test-speakers", "07"], 1, "unknown speaker(s) in --test-speakers: 07"),
        (["--test-speakers", "01", "--val-speakers", "1"], 1, "01 are in both"),
        (["--split", "random", "--test-speakers", "01"], 2, "apply to --split speaker only"),
    ],
)
def test_cli_bad_options_fail_with_one_clear_line(small_ravdess, tmp_path, args, code, message):
    result = ser("prepare", small_ravdess, "--out", tmp_path / "out", *args)
    assert result.exit_code == code
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.output


def test_cli_bad_paths_fail_clearly(tmp_path, write_clip, folders_corpus):
    missing = ser("prepare", tmp_path / "nowhere", "--out", tmp_path / "out")
    assert missing.exit_code == 1 and "corpus folder not found" in missing.stderr
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("no audio here")
    empty = ser("prepare", tmp_path / "empty", "--out", tmp_path / "out")
    assert empty.exit_code == 1 and "no audio files found" in empty.stderr
    (tmp_path / "file.txt").write_text("")
    as_file = ser("prepare", folders_corpus(), "--out", tmp_path / "file.txt")
    assert as_file.exit_code == 1 and "--out is a file" in as_file.stderr
    stray = write_clip(tmp_path / "one.wav")
    not_a_folder = ser("prepare", stray, "--out", tmp_path / "out")
    assert not_a_folder.exit_code == 1 and "is a file, not a corpus folder" in not_a_folder.stderr
    empty_explicit = ser("prepare", tmp_path / "empty", "--out", tmp_path / "o", "-d", "ravdess")
    assert empty_explicit.exit_code == 1 and "no audio files found" in empty_explicit.stderr


def test_one_speaker_needs_a_random_split(folders_corpus, tmp_path):
    root = folders_corpus(with_speakers=False)  # every clip's speaker is "unknown"
    failed = ser("prepare", root, "--out", tmp_path / "out")
    assert failed.exit_code == 1
    assert "at least 3 speakers; this corpus has 1 (unknown)" in failed.stderr
    assert "--split random" in failed.stderr
    assert ser("prepare", root, "--out", tmp_path / "out", "--split", "random").exit_code == 0


def test_library_errors_are_dataset_errors(tmp_path):
    with pytest.raises(DatasetError):
        prepare_corpus(tmp_path / "nowhere", tmp_path / "out")


# --- real RAVDESS (skipped where ../shared/data is absent) -----------------------------------


realdata = pytest.mark.realdata


@realdata
@pytest.mark.skipif(not REAL_16K.is_dir(), reason="../shared/data/ravdess-speech-16k absent")
def test_real_ravdess_16k_has_1200_clips_20_actors_8_emotions(tmp_path):
    result = prepare_corpus(REAL_16K, tmp_path / "out", folds=5)
    assert result.dataset == "ravdess"
    assert len(result.rows) == 1200 and result.rejected == []
    assert len({r["speaker"] for r in result.rows}) == 20
    assert {r["label"] for r in result.rows} == set(EMOTIONS)
    assert result.warnings == []
    for fold in range(5):
        speakers = {r["speaker"]: r["gender"] for r in result.rows if r["fold"] == fold}
        assert sorted(speakers.values()) == ["female", "female", "male", "male"]


@realdata
@pytest.mark.skipif(not REAL_48K.is_dir(), reason="../shared/data/ravdess-speech-48k-sample absent")
def test_real_ravdess_48k_sample_has_60_clips_and_the_stereo_one(tmp_path):
    result = ser("prepare", REAL_48K, "--out", tmp_path / "out", "--split", "random")
    assert result.exit_code == 0, result.output
    rows = {Path(r["path"]).name: r for r in read_manifest(tmp_path / "out")}
    assert len(rows) == 60
    assert rows[STEREO_CLIP]["channels"] == "2"
    assert {r["sample_rate"] for r in rows.values()} == {"48000"}
    assert "0 rejected" in result.output


@realdata
@pytest.mark.slow
@pytest.mark.skipif(not REAL_16K.is_dir(), reason="../shared/data/ravdess-speech-16k absent")
def test_real_ravdess_16k_prepares_within_budget(tmp_path):
    start = time.perf_counter()
    result = prepare_corpus(REAL_16K, tmp_path / "out")
    elapsed = time.perf_counter() - start
    assert len(result.rows) == 1200
    assert elapsed < PREPARE_BUDGET_S, f"prepare took {elapsed:.1f} s"
