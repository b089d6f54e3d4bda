"""Recipes as files: each recipes/NAME.yaml is a complete `ser train --config` file, the default
recipe's file is the defaults, each measured recipe's file is what its result file measured, and
recipes/bundle.yaml describes the bundled model."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
import yaml

from ser_cli.config import REMOVED, AugmentConfig, RunConfig, TrainConfig, load_run_config
from ser_cli.features.extract import FeatureConfig
from ser_cli.labels import EMOTIONS
from ser_cli.models import get_spec, model_config, saved_model_config
from ser_cli.models.checkpoint import read_sidecar

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


sys.path.insert(0, str(ROOT))  # benchmarks/ sits beside the package, not in it
from benchmarks import recipes, run  # noqa: E402
from benchmarks import train_default_model as default_model  # noqa: E402

NAMES = recipes.recipe_names()


def _resolved(cfg: RunConfig) -> dict:
    """The model's full config as training builds it (options over the model's defaults)."""
    dims = {"n_features": cfg.features.dims, "n_classes": len(EMOTIONS)}
    if cfg.features.voice:  # as the trainer builds it: the voice head reads the last dims
        dims["voice_dims"] = cfg.features.voice_dims
    return dataclasses.asdict(model_config(cfg.model, cfg.model_options, **dims))


def _same(a: RunConfig, b: RunConfig) -> bool:
    return (a.model, _resolved(a), a.features, a.train) == (
        b.model,
        _resolved(b),
        b.features,
        b.train,
    )


def _flat(mapping: dict, prefix: str = "") -> dict:
    """{"train.augment.gain_db": 6.0, ...}: each setting by its dotted name (model_options whole)."""
    out = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and key != "model_options":
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _keys(mapping: dict) -> set[str]:
    return set(_flat(mapping))


# Options measured and not kept, removed from the code in issue 23 (their figures stay in
# docs/accuracy.md): a config written before may carry them, off (config.REMOVED).
LEAVING = {f"train.{k}" for k in REMOVED[TrainConfig]} | {
    f"train.augment.{k}" for k in REMOVED[AugmentConfig]
}


def test_the_recipes_are_found():
    assert recipes.DEFAULT_RECIPE in NAMES and "bundle" not in NAMES
    with pytest.raises(SystemExit, match="unknown recipe 'nope'; choose from"):
        recipes.recipe_file("nope")


@pytest.mark.parametrize("name", NAMES)
def test_each_recipe_file_is_a_complete_config(name):
    """Every setting written out, so a later change of a default never changes a recipe."""
    path = recipes.recipe_file(name)
    data = yaml.safe_load(path.read_text())
    cfg = load_run_config(path)  # unknown or ill-typed settings fail here
    every = _keys(RunConfig().to_dict()) - LEAVING
    assert _keys(data) - {"model_options"} == every - {"model_options"}
    _resolved(cfg)  # the model accepts its options
    assert get_spec(cfg.model).features == ("ssl" if cfg.features.kind == "ssl" else "logmel")


def test_the_default_recipe_file_equals_the_defaults():
    cfg = recipes.recipe_config(recipes.DEFAULT_RECIPE)
    assert _same(cfg, RunConfig()), (
        f"recipes/{recipes.DEFAULT_RECIPE}.yaml and the defaults differ: change both together"
    )


def _measured(saved: dict) -> RunConfig:
    """The config a result file says was measured: its saved config, or (older results) its
    `--set` overrides on today's defaults, where settings since removed were set to 0 (off)."""
    if "config" in saved:
        return load_run_config(overrides=[], base=saved["config"])
    every = _keys(RunConfig().to_dict())
    kept = []
    for item in saved["overrides"]:
        key, value = item.split("=", 1)
        if key in every or key.startswith("model_options."):
            kept.append(item)
        else:
            assert yaml.safe_load(value) == 0, f"{item}: a removed setting that was on"
    return load_run_config(overrides=kept)


@pytest.mark.parametrize("name", [n for n in NAMES if (RESULTS / f"recipe-{n}.json").exists()])
def test_each_measured_recipe_file_is_what_its_result_measured(name):
    saved = json.loads((RESULTS / f"recipe-{name}.json").read_text())
    assert _same(recipes.recipe_config(name), _measured(saved))


@pytest.mark.parametrize("model", sorted(run.CV_RECIPES))
def test_each_model_row_trains_its_recipe_file(model):
    """The per-model CV table (`python benchmarks/run.py cv`): each row's result file saved the
    config it trained, and its recipe file is that config."""
    saved = json.loads((RESULTS / f"cv-{model}.json").read_text())
    recipe = run.CV_RECIPES[model]
    assert saved["model"] == model and recipe in NAMES
    assert _same(recipes.recipe_config(recipe), _measured(saved))


def test_the_bundled_model_is_the_bundle_file_and_its_recipe():
    """recipes/bundle.yaml and the bundled model's sidecar agree: the members' recipe (its model,
    features and training settings, with each member's seed), its corpora and its calibration."""
    bundle = default_model.read_bundle()
    bundled = read_sidecar(default_model.TARGET, "best")
    configs = [recipes.recipe_config(m.recipe, m.seed) for m in bundle]
    first = configs[0]
    for cfg in configs:  # one training set and one feature pipeline: `ser ensemble` needs it
        assert (cfg.model, _resolved(cfg), cfg.features) == (
            first.model,
            _resolved(first),
            first.features,
        )
    assert bundled["model"] == first.model
    # as a checkpoint loads it: options removed since it was trained drop out, those added since
    # take the value it trained with
    saved = saved_model_config(bundled["model"], bundled["model_config"])
    assert dataclasses.asdict(saved) == _resolved(first)
    assert FeatureConfig.from_dict(bundled["feature_config"]) == first.features
    # the sidecar's training settings are the first member's, seed included
    train = _flat({"train": json.loads(json.dumps(dataclasses.asdict(first.train)))})
    trained = _flat({"train": bundled["train_config"]})
    later = getattr(type(first.train), "ADDED_LATER", {})  # with the value it trained with
    later = {f"train.{k}": v for k, v in later.items()}
    student = default_model.read_student()
    if student is not None:  # one network taught by the members: their seeds, its own seed
        assert trained.pop("train.teacher") and train.pop("train.teacher") == ""
        train["train.seed"] = student
    assert {k: trained.get(k, later.get(k)) for k in train} == train
    assert trained["train.seed"] == (bundle[0].seed if student is None else student)
    # settings it has that the config no longer has: the removed options, all off
    gone = set(trained) - set(train)
    assert gone <= LEAVING
    if len(bundle) > 1 and student is None:
        assert bundled["ensemble"]["seeds"] == [m.seed for m in bundle]
        assert bundled["ensemble"]["epochs"] == [c.train.epochs for c in configs]
    else:
        assert "ensemble" not in bundled
    # every member trained on the same corpora, and the model's speakers come from exactly those
    assert len({m.corpora for m in bundle}) == 1
    corpora = bundle[0].corpora
    if len(corpora) > 1:  # speakers of a mix are prefixed with their corpus
        from benchmarks.corpora import CORPORA

        names = {path.name: name for name, path in CORPORA.items()}
        prefixes = {s.split("-")[0] for s in bundled["train_speakers"]}
        assert prefixes == {names[c] for c in corpora}
    # calibrated on the out-of-fold predictions of the cross-validation the bundle names
    folds = default_model.calibration_folds(bundle, student)
    assert folds.command in bundled["calibration"]["fitted_on"]
    assert bundled["calibration"]["clips"] > 1000


@pytest.mark.parametrize(
    ("measure", "name"),
    [(m, n) for m in ("loco", "folds") for n in NAMES if (RESULTS / f"{m}-{n}.json").exists()],
)
def test_each_recipe_file_is_what_its_corpus_results_measured(measure, name):
    """Leave-one-corpus-out and the speaker folds of the mix (benchmarks/corpora.py)."""
    saved = json.loads((RESULTS / f"{measure}-{name}.json").read_text())
    sets = default_model.recipe_overrides(name, measure)
    assert sets, saved["command"]
    assert _same(recipes.recipe_config(name), load_run_config(overrides=sets))


def test_the_model_card_names_every_corpus_a_bundle_can_train_on_and_its_terms():
    """Each corpus of the leave-one-corpus-out benchmark can be a bundled member's data; the
    card then says what it is and the terms its weights carry, and refuses a corpus it cannot
    describe rather than printing a card without its licence."""
    from benchmarks import corpora

    folders = tuple(path.name for path in corpora.CORPORA.values())
    data, licence = default_model.corpus_card(folders, "01, 02")
    assert data.count(";") >= len(folders) - 1 and "actors 01, 02" in data
    for term in ("CC BY-NC-SA 4.0", "Burkhardt", "Retta"):
        assert term in licence
    assert len(licence.split("\n\n")) == len(folders)
    with pytest.raises(SystemExit, match="no-such-corpus"):
        default_model.corpus_card(("ravdess-speech-16k", "no-such-corpus"), "")


def test_an_interrupted_benchmark_seed_resumes_and_its_minutes_count_every_attempt(
    tmp_path, monkeypatch
):
    """benchmarks/corpora.py --resume: the run folder continues with `ser train --resume`, and the
    minutes recorded add the interrupted attempt's to the one that finished; a start without
    --resume over a started folder (refused by ser train) leaves its minutes alone."""
    import subprocess

    from benchmarks import corpora

    now = [1000.0]
    monkeypatch.setattr(corpora.time, "time", lambda: now[0])
    calls = []
    out = tmp_path / "folds-x-s0"

    def fake_ser(*args):
        calls.append(args)
        if "--resume" not in args and out.exists():  # ser train refuses a started folder
            raise subprocess.CalledProcessError(1, "ser train")
        out.mkdir(exist_ok=True)
        now[0] += 120.0 if len(calls) == 1 else 180.0
        if len(calls) == 1:  # the first attempt is interrupted two minutes in
            raise subprocess.CalledProcessError(130, "ser train")

    monkeypatch.setattr(corpora, "ser", fake_ser)
    with pytest.raises(subprocess.CalledProcessError):
        corpora.train_cv(out, False, "--data", "mix.csv")
    assert "--resume" not in calls[0] and calls[0][-2:] == ("--out", out)
    assert corpora.train_cv(out, True, "--data", "mix.csv") == 5.0
    assert calls[1][-1] == "--resume"
    assert json.loads((tmp_path / "folds-x-s0.minutes.json").read_text()) == {"minutes": 5.0}
    # started again without --resume: refused, and the 5 minutes stay recorded
    with pytest.raises(subprocess.CalledProcessError):
        corpora.train_cv(out, False, "--data", "mix.csv")
    assert "--resume" not in calls[2]
    assert json.loads((tmp_path / "folds-x-s0.minutes.json").read_text()) == {"minutes": 5.0}


def test_each_benchmark_seed_records_the_machine_that_measured_it(tmp_path, monkeypatch):
    """benchmarks/corpora.py result files gather seeds from sessions on different CPUs (whose
    kernels train the same seed to different weights): each new entry records its own machine,
    and a file's old top-level machine stays as long as an entry still relies on it."""
    from benchmarks import corpora

    path = tmp_path / "folds-x.json"
    old = {"cpu_capability": "AVX2", "cores": 2}
    path.write_text(json.dumps({"seeds": {"0": {"minutes": 1.0}}, "machine": old}))
    monkeypatch.setattr(corpora, "machine", lambda: {"cpu_capability": "AVX512", "cores": 2})
    saved = corpora._save(path, 1, {"minutes": 2.0}, "cmd")
    assert saved["machine"] == old and "machine" not in saved["seeds"]["0"]
    assert saved["seeds"]["1"] == {
        "minutes": 2.0,
        "machine": {"cpu_capability": "AVX512", "cores": 2},
    }
    assert json.loads(path.read_text()) == saved
    # once every entry carries its machine the top-level one has nothing left to describe
    saved = corpora._save(path, 0, {"minutes": 3.0}, "cmd")
    assert "machine" not in saved and saved["seeds"]["0"]["machine"]["cpu_capability"] == "AVX512"


def test_a_bundle_is_calibrated_on_out_of_fold_predictions_or_on_what_the_folds_recorded(
    tmp_path,
):
    """The bundle's temperature comes from its recipe's fold models predicting the speakers
    each never heard; benchmarks/corpora.py folds records it, so a later rebuild uses the
    record once the fold models are gone, and with neither it stops naming the command."""
    from synthetic_runs import make_run, write_corpus

    from benchmarks import corpora
    from ser_cli.models.checkpoint import read_sidecar

    rows = [{**r, "fold": str(int(r["speaker"]) % 2)} for r in write_corpus(tmp_path / "audio")]
    folder = tmp_path / "folds-x-s0"
    for fold in (0, 1):  # random heads scaled up: confident and mostly wrong
        make_run(folder, "enhanced", seed=fold, name=f"fold{fold}")
    fitted = corpora.oof_calibration(folder, rows)
    assert fitted["clips"] == len(rows)
    assert fitted["temperature"] > 1.0  # overconfident models are softened...
    assert fitted["val_ece_after"] < fitted["val_ece_before"]  # ...and that calibrates them
    with pytest.raises(SystemExit, match="no fold models"):
        corpora.oof_calibration(tmp_path / "nothing", rows)

    bundle = make_run(tmp_path, "enhanced", seed=7, name="bundle")
    gone = default_model.Folds(tmp_path / "gone", tmp_path / "m.csv", "the folds command", fitted)
    default_model.calibrate(bundle, gone)
    calibration = read_sidecar(bundle, "best")["calibration"]
    assert calibration["temperature"] == fitted["temperature"]
    assert "the folds command" in calibration["fitted_on"]
    unrecorded = default_model.Folds(tmp_path / "gone", tmp_path / "m.csv", "the folds command")
    with pytest.raises(SystemExit, match="run `the folds command`"):
        default_model.calibrate(bundle, unrecorded)


def _folds_benchmark_in(tmp_path, monkeypatch):
    """benchmarks/corpora.py pointed at a synthetic one-corpus mix with two speaker folds under
    tmp_path: its rows, and the run and result folders it writes to."""
    from synthetic_runs import write_corpus

    from benchmarks import corpora
    from ser_cli.data.manifest import write_manifest

    rows = [
        {**r, "fold": str(int(r["speaker"]) % 2), "corpus": "ravdess"}
        for r in write_corpus(tmp_path / "audio")
    ]
    manifest = write_manifest(rows, tmp_path / "mix.csv")
    out, results = tmp_path / "corpora", tmp_path / "results"
    results.mkdir()
    for name, value in (("OUT", out), ("RESULTS", results), ("CORPORA", ("ravdess",))):
        monkeypatch.setattr(corpora, name, value)
    monkeypatch.setattr(corpora, "mix_manifest", lambda: manifest)
    monkeypatch.setattr(corpora, "machine", lambda: {"cores": 2})
    return rows, out, results


def test_the_folds_of_several_seeds_combine_fold_by_fold_beside_each_seed_alone(
    tmp_path, monkeypatch
):
    """benchmarks/corpora.py folds-ensemble: fold K's models of each seed in one ensemble, scored
    on fold K's speakers (its probabilities are the mean of its members'), with the same seeds'
    one-network figures from folds-NAME.json beside it; a seed never scored or a fold model
    gone stops in one line naming what to run."""
    import shutil

    import numpy as np
    from synthetic_runs import make_run, mark_trained

    from benchmarks import corpora
    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.models.checkpoint import load_checkpoint

    rows, out, results = _folds_benchmark_in(tmp_path, monkeypatch)

    with pytest.raises(SystemExit, match="no seed 1, 2; run `corpora.py folds` first"):
        corpora.folds_ensemble([1, 2], "x")
    recorded = {"1": {"corpora": {"ravdess": 0.25}}, "2": {"corpora": {"ravdess": 0.5}}}
    (results / "folds-x.json").write_text(json.dumps({"seeds": recorded}))
    for seed in (1, 2):  # one training set per fold: the seeds' runs share its statistics
        for fold in (0, 1):
            mark_trained(make_run(out / f"folds-x-s{seed}", "enhanced", 10 * seed + fold,
                                  stats_seed=fold, name=f"fold{fold}"))  # fmt: skip
    corpora.folds_ensemble([1, 2], "x")
    entry = json.loads((results / "folds-ensemble-x.json").read_text())["seeds"]["1-2"]
    assert entry["one_network"] == {"1": {"ravdess": 0.25}, "2": {"ravdess": 0.5}}
    fitted = corpora.oof_calibration(out / "folds-ensemble-x-s1-2", rows)
    assert entry["calibration"] == fitted and fitted["clips"] == len(rows)

    right = 0  # the mean of the two seeds' probabilities, fold by fold
    for fold in ("0", "1"):
        test = [r for r in rows if r["fold"] == fold]
        probs = []
        for seed in (1, 2):
            ckpt = load_checkpoint(out / f"folds-x-s{seed}" / f"fold{fold}")
            predictions = evaluate_rows(ckpt, test, adapt=False, per_file=True)["predictions"]
            probs.append([[p["probabilities"][n] for n in ckpt.labels] for p in predictions])
            truth = [p["label"] for p in predictions]  # each clip's own label
        labels = [ckpt.labels[i] for i in np.mean(probs, axis=0).argmax(1)]
        right += sum(a == b for a, b in zip(labels, truth, strict=True))
    assert entry["corpora"]["ravdess"] == pytest.approx(right / len(rows))

    shutil.rmtree(out / "folds-ensemble-x-s1-2")
    mark_trained(out / "folds-x-s2" / "fold1", epoch=1)  # a folds run killed in its epoch 1
    with pytest.raises(SystemExit, match="folds-x-s2/fold1: no fold model"):
        corpora.folds_ensemble([1, 2], "x")
    shutil.rmtree(out / "folds-x-s2" / "fold1")
    with pytest.raises(SystemExit, match="folds-x-s2/fold1: no fold model"):
        corpora.folds_ensemble([1, 2], "x")


def test_a_failed_write_of_a_benchmark_result_keeps_the_seeds_already_recorded(
    tmp_path, monkeypatch
):
    """A result file gathers hours of seeds: a write that fails (disk full) must leave it as it
    was, never half-written (benchmarks write through ser_cli.atomic)."""
    from benchmarks import corpora
    from ser_cli import atomic
    from ser_cli.errors import OutputError

    path = tmp_path / "folds-x.json"
    monkeypatch.setattr(corpora, "machine", lambda: {"cores": 2})
    before = corpora._save(path, 0, {"minutes": 65.0}, "cmd")

    def disk_full(_path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "_fsync", disk_full)
    with pytest.raises(OutputError, match="the old file is kept"):
        corpora._save(path, 1, {"minutes": 70.0}, "cmd")
    assert json.loads(path.read_text()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["folds-x.json"]  # no temporary left


def test_a_fold_student_learns_from_its_own_folds_ensemble_and_is_scored_beside_it(
    tmp_path, monkeypatch
):
    """benchmarks/corpora.py folds-distil: fold K's student trains on every speaker but fold
    K's with fold K's ensemble as its teacher (the recipe's --set flags passed on), is scored
    on fold K's speakers beside the ensemble's recorded figures, and is kept when the command
    runs again (one a killed run left is continued with --resume); without the ensembles it
    stops naming the command that makes them."""
    import csv

    from synthetic_runs import make_run, mark_trained

    from benchmarks import corpora

    rows, out, results = _folds_benchmark_in(tmp_path, monkeypatch)
    trained = []

    def fake_ser(*args):  # `ser train`: a small random run where --out points
        args = [str(a) for a in args]
        run = Path(args[args.index("--out") + 1])
        with open(args[args.index("--data") + 1], newline="") as fh:
            split = {r["path"]: r["split"] for r in csv.DictReader(fh)}
        trained.append((run.name, args, split))
        if "--resume" not in args:
            make_run(run.parent, "enhanced", seed=len(trained), name=run.name)
        mark_trained(run)

    monkeypatch.setattr(corpora, "ser", fake_ser)
    with pytest.raises(SystemExit, match="run `corpora.py folds-ensemble --seeds 1 2 --name x`"):
        corpora.folds_distil([1, 2], "x", [])
    teachers = out / "folds-ensemble-x-s1-2"
    for fold in (0, 1):
        make_run(teachers, "enhanced", seed=fold, name=f"fold{fold}")
    recorded = {"seeds": {"1-2": {"corpora": {"ravdess": 0.75}}}}
    (results / "folds-ensemble-x.json").write_text(json.dumps(recorded))

    corpora.folds_distil([1, 2], "x", ["train.epochs=3"])
    assert [name for name, _, _ in trained] == ["fold0", "fold1"]
    for name, args, split in trained:
        fold = name.removeprefix("fold")
        assert f"train.teacher={teachers / name}" in args and "train.epochs=3" in args
        assert all(split[r["path"]] == ("test" if r["fold"] == fold else "train") for r in rows)
    entry = json.loads((results / "folds-distil-x.json").read_text())["seeds"]["0"]
    assert entry["ensemble"] == {"ravdess": 0.75} and entry["teachers"] == teachers.name
    assert 0.0 <= entry["corpora"]["ravdess"] <= 1.0
    # the students' out-of-fold temperature, every clip once (the folds' manifests skipped)
    assert entry["calibration"]["clips"] == len(rows) and entry["calibration"]["temperature"] > 0
    corpora.folds_distil([1, 2], "x", ["train.epochs=3"])  # the students are kept
    assert len(trained) == 2
    mark_trained(out / "folds-distil-x-s0" / "fold1", epoch=1)  # killed in its epoch 2
    corpora.folds_distil([1, 2], "x", ["train.epochs=3"])
    assert [name for name, _, _ in trained] == ["fold0", "fold1", "fold1"]
    assert "--resume" in trained[-1][1] and "--resume" not in trained[1][1]


def test_a_bundle_is_calibrated_by_the_folds_that_measured_its_members_or_their_student(
    tmp_path, monkeypatch
):
    """One member: its recipe's `folds`; several: their `folds-ensemble`; a student of
    several (recipes/bundle.yaml's `student`): the `folds-distil` taught by that ensemble, and
    nothing recorded for a student of other seeds (its folds are then fitted or named)."""
    from benchmarks import corpora

    monkeypatch.setattr(corpora, "RESULTS", tmp_path)
    monkeypatch.setattr(corpora, "OUT", tmp_path / "out")
    monkeypatch.setattr(default_model, "recipe_overrides", lambda recipe, measure="loco": ["a=1"])
    mixed = tuple(path.name for path in corpora.CORPORA.values())
    bundle = [default_model.Member("r", seed, mixed) for seed in (1, 2, 3)]
    recorded = {
        "folds-r": {"1": {"calibration": {"temperature": 1.1}}},
        "folds-ensemble-r": {"1-2-3": {"calibration": {"temperature": 1.2}}},
        "folds-distil-r": {
            "0": {"teachers": "folds-ensemble-r-s1-2-3", "calibration": {"temperature": 1.3}},
            "4": {"teachers": "folds-ensemble-r-s1-2", "calibration": {"temperature": 1.4}},
        },
    }
    for name, seeds in recorded.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({"seeds": seeds}))
    cases = [
        (bundle[:1], None, 1.1, "folds-r-s1", "folds --seeds 1 --name r --set a=1"),
        (bundle, None, 1.2, "folds-ensemble-r-s1-2-3", "folds-ensemble --seeds 1 2 3 --name r"),
        (bundle, 0, 1.3, "folds-distil-r-s0", "folds-distil --seeds 1 2 3 --name r --set a=1"),
    ]
    for members, student, temperature, folder, command in cases:
        folds = default_model.calibration_folds(members, student)
        assert folds.recorded == {"temperature": temperature}
        assert folds.folder == tmp_path / "out" / folder
        assert folds.command == f"python benchmarks/corpora.py {command}"
    assert default_model.calibration_folds(bundle, 4).recorded is None
    other = [*bundle[:2], default_model.Member("q", 3, mixed)]
    with pytest.raises(SystemExit, match="members of one recipe"):
        default_model.calibration_folds(other)

    spec = tmp_path / "bundle.yaml"
    spec.write_text("members: []\n")
    assert default_model.read_student(spec) is None
    spec.write_text("members: []\nstudent: {seed: 0}\n")
    assert default_model.read_student(spec) == 0
    spec.write_text("members: []\nstudent: 0\n")
    with pytest.raises(SystemExit, match="write `student: {seed: 0}`"):
        default_model.read_student(spec)


def test_the_bundles_student_trains_on_every_clip_with_the_members_as_its_teacher(
    tmp_path, monkeypatch
):
    """train_default_model.train_student: `ser train` with the recipe's file and the student's
    seed on the all-clips manifest, taught by the given run; a stale student folder goes."""
    from synthetic_runs import make_run, mark_trained

    calls = []
    monkeypatch.setattr(
        default_model.subprocess, "run", lambda cmd, check: calls.append([str(c) for c in cmd])
    )
    stale = tmp_path / "student-seed0"
    stale.mkdir()
    (stale / "best.json").write_text("{}")
    name = default_model.read_bundle()[0].recipe
    run = default_model.train_student(tmp_path, name, 0, teacher=tmp_path / "ensemble")
    assert run == stale and not stale.exists()
    # with --reuse-runs: a finished student is kept, one a killed rebuild left is continued
    mark_trained(make_run(tmp_path, "enhanced", name="student-seed0"), epoch=3)
    default_model.train_student(tmp_path, name, 0, tmp_path / "ensemble", reuse=True)
    assert calls[-1][-1] == "--resume" and (tmp_path / "student-seed0" / "best.json").exists()
    mark_trained(tmp_path / "student-seed0")
    default_model.train_student(tmp_path, name, 0, tmp_path / "ensemble", reuse=True)
    assert len(calls) == 2
    cmd = calls[0]
    assert cmd[1:3] == ["train", "--config"] and cmd[3] == str(recipes.recipe_file(name))
    assert cmd[cmd.index("--seed") + 1] == "0"
    assert cmd[cmd.index("--data") + 1] == str(tmp_path / "manifest-all.csv")
    assert cmd[cmd.index("--out") + 1] == str(run)
    assert cmd[-2:] == ["--set", f"train.teacher={tmp_path / 'ensemble'}"]
    assert calls[1][:-1] == cmd
