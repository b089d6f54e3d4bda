"""Training recipes compared the way a user meets them: unseen RAVDESS actors and EmoDB.

    python benchmarks/recipes.py RECIPE [RECIPE ...] [--seeds 0 1 2]
    python benchmarks/recipes.py ensemble RECIPE [--seeds 0 1 2]   # seed ensembles of a recipe
    python benchmarks/recipes.py mix RECIPE:SEED RECIPE:SEED ...   # fold models of several recipes
    python benchmarks/recipes.py table        # rewrite the docs' tables (benchmarks/tables.py)

A recipe is a file, recipes/RECIPE.yaml (a complete `ser train --config` file). For each recipe
and seed this runs the user's command,
``ser train --config recipes/RECIPE.yaml --data bench-out/ravdess --cv 5 --seed S``
(5 speaker-disjoint folds over actors 01-20, no validation split), and reads its no-adaptation
CV accuracy (what ``ser predict`` gives a user: no speaker statistics). Each fold model is then scored on every
EmoDB clip without adaptation (``ser eval --no-adapt``'s scoring: boredom left out, calm counted
as neutral, surprised dropped) over EmoDB's 6 classes and the angry/happy/neutral/sad view, and
so is the average of the 5 fold models' probabilities (a fold ensemble). EmoDB is evaluation
only: recipes are kept when they measure better on BOTH the folds and EmoDB.

Results: benchmarks/results/recipe-RECIPE.json (one entry per seed, appended as seeds finish,
so an interrupted comparison keeps what it measured).

``ensemble`` scores seed ensembles of a recipe whose seeds have run, the same way: for each fold
the seeds' fold models are combined with ``ser ensemble`` (their mean probability; all were
trained on the same 16 actors) and tested on the fold's 4 unseen actors and on EmoDB, without
adaptation. Every pair of the seeds is scored (mean ± std over the pairs) and so are all of them
together. Results: benchmarks/results/ensemble-RECIPE.json. ``mix`` scores one ensemble whose
members come from several recipes (RECIPE:SEED each; the recipes may differ in model options and
schedule, not in features or normalisation): benchmarks/results/ensemble-mix.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ser_cli.atomic import write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "bench-out" / "recipes"
BIN_SER = str(Path(sys.executable).with_name("ser"))

RECIPES = ROOT / "recipes"  # one complete `ser train --config` file per recipe
BUNDLE_FILE = "bundle.yaml"  # not a recipe: the bundled model's members (train_default_model.py)
# The recipe `ser train` uses when given no config: its file equals the defaults (a test checks).
DEFAULT_RECIPE = "utterance-norm-60-epochs"
# The commit before the options that only some measured recipes used (mixup, weight averaging,
# rooms, band-limiting, spectral tilt, mel-axis shift, frequency flattening) left the code:
# `git checkout REMOVED_AT && python benchmarks/recipes.py NAME` reruns those recipes.
REMOVED_AT = "deecab2"


def recipe_names() -> list[str]:
    """Every recipe with a file in recipes/ (what `python benchmarks/recipes.py NAME` runs)."""
    return sorted(p.stem for p in RECIPES.glob("*.yaml") if p.name != BUNDLE_FILE)


def recipe_file(name: str) -> Path:
    """recipes/NAME.yaml; SystemExit naming the recipes when there is none."""
    path = RECIPES / f"{name}.yaml"
    if name not in recipe_names():
        raise SystemExit(f"unknown recipe {name!r}; choose from {', '.join(recipe_names())}")
    return path


def recipe_config(name: str, seed: int | None = None):
    """The RunConfig that `ser train --config recipes/NAME.yaml [--seed S]` trains with."""
    from ser_cli.config import load_run_config

    return load_run_config(recipe_file(name), [f"train.seed={seed}"] if seed is not None else [])


def emodb_rows() -> list[dict]:
    from benchmarks.run import EMODB
    from ser_cli.data.manifest import read_manifest

    out = ROOT / "bench-out" / "emodb"
    if not (out / "manifest.csv").exists():
        subprocess.run(
            [BIN_SER, "prepare", str(EMODB), "--out", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return read_manifest(out)


def score_folds(cv_dir: Path, rows: list[dict]) -> dict:
    """EmoDB scores of each fold model and of their average (no adaptation)."""
    from ser_cli.inference.evaluate import evaluate_rows, score_probabilities
    from ser_cli.models.checkpoint import load_checkpoint

    corpus = sorted({r["label"] for r in rows})
    per_fold, probs = [], []
    for fold_dir in sorted(cv_dir.glob("fold*")):
        ckpt = load_checkpoint(fold_dir, "best")
        report = evaluate_rows(ckpt, rows, adapt=False, per_file=True, corpus_labels=corpus)
        per_fold.append(_brief(report))
        probs.append([[p["probabilities"][n] for n in ckpt.labels] for p in report["predictions"]])
        labels = ckpt.labels
        targets = np.array([labels.index(p["label"]) for p in report["predictions"]])
    mean = np.mean(np.asarray(probs), axis=0)
    ensemble = _brief(score_probabilities(mean, targets, labels, corpus))
    return {"folds": per_fold, "ensemble": ensemble}


def _brief(report: dict) -> dict:
    return {
        "accuracy": report["accuracy"],
        "uar": report["uar"],
        "four_class_accuracy": report["four_class"]["accuracy"],
        "four_class_uar": report["four_class"]["uar"],
        "ece": report["calibration"]["ece"],
    }


def run_recipe(name: str, seeds: list[int]) -> None:
    from benchmarks.run import manifest_dir

    result_path = RESULTS / f"recipe-{name}.json"
    saved = json.loads(result_path.read_text()) if result_path.exists() else {"seeds": {}}
    rows = emodb_rows()
    config = recipe_file(name)
    for seed in seeds:
        out = OUT / name / f"seed{seed}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [BIN_SER, "train", "--config", str(config), "--data", str(manifest_dir())]
        cmd += ["--out", str(out), "--cv", "5", "--seed", str(seed)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        train_s = time.perf_counter() - start
        cv = json.loads((out / "cv.json").read_text())
        saved["seeds"][str(seed)] = {
            "measured": time.strftime("%Y-%m-%d %H:%M"),
            "cpus": os.cpu_count(),
            # the CPU kernels the runs used (seeded results depend on them), from a fold sidecar
            "cpu_capability": json.loads((out / "fold0" / "best.json").read_text()).get(
                "torch_cpu_capability"
            ),
            "command": " ".join(["ser", *cmd[1:]]).replace(str(ROOT) + "/", ""),
            "commit": _commit(),
            "train_s": round(train_s, 1),
            "cv_no_adapt": cv["summary"]["metrics_no_adapt.accuracy"]["mean"],
            "cv_no_adapt_uar": cv["summary"]["metrics_no_adapt.uar"]["mean"],
            "cv_adapted": cv["summary"]["metrics.accuracy"]["mean"],
            "emodb": score_folds(out, rows),
        }
        # the settings measured (the recipe file may change later), with the file they came from
        saved["recipe"] = str(config.relative_to(ROOT))
        saved["config"] = yaml.safe_load(config.read_text())
        RESULTS.mkdir(parents=True, exist_ok=True)
        write_json(result_path, saved)
        print(name, seed, json.dumps(summarise(saved)))


def run_ensemble(name: str, seeds: list[int]) -> None:
    """Seed ensembles of ``name`` (see the module docstring), per fold, without adaptation."""
    from itertools import combinations

    groups = [*combinations(seeds, 2), tuple(seeds)] if len(seeds) > 2 else [tuple(seeds)]
    command = f"python benchmarks/recipes.py ensemble {name} --seeds {' '.join(map(str, seeds))}"
    data = _scoring_data()
    for members in groups:
        key = "+".join(map(str, members))
        out = OUT / name / f"ensemble-{key}"
        pairs = [(name, s) for s in members]
        _score_ensemble(pairs, out, command, RESULTS / f"ensemble-{name}.json", key, data)


def run_mix(specs: list[str]) -> None:
    """One ensemble of fold models from several recipes (RECIPE:SEED each), scored as above."""
    members = []
    for spec in specs:
        name, _, seed = spec.rpartition(":")
        if name not in recipe_names() or not seed.isdigit():
            raise SystemExit(
                f"{spec!r}: give RECIPE:SEED with a recipe from {', '.join(recipe_names())}"
            )
        members.append((name, int(seed)))
    key = "+".join(specs)
    out = mix_dir(specs)
    command = "python benchmarks/recipes.py mix " + " ".join(specs)
    _score_ensemble(members, out, command, RESULTS / "ensemble-mix.json", key, _scoring_data())


def mix_dir(specs: list[str]) -> Path:
    """Where ``mix`` writes the per-fold ensembles of the members RECIPE:SEED ..."""
    return OUT / "mix" / hashlib.sha1("+".join(specs).encode()).hexdigest()[:10]


def _scoring_data() -> tuple[list[dict], list[dict]]:
    """The prepared RAVDESS rows (with their folds) and the EmoDB rows, read once."""
    from benchmarks.run import manifest_dir
    from ser_cli.data.manifest import read_manifest

    return read_manifest(manifest_dir()), emodb_rows()


def _score_ensemble(
    members: list[tuple[str, int]],
    out_dir: Path,
    command: str,
    result_path: Path,
    key: str,
    data: tuple[list[dict], list[dict]],
) -> None:
    """Per fold: the members' fold models combined with `ser ensemble`, scored without
    adaptation on the fold's unseen actors and on EmoDB (``data``); saved under ``key``."""
    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.models.checkpoint import load_checkpoint
    from ser_cli.models.combine import combine_runs

    rows, emodb = data
    corpus = sorted({r["label"] for r in emodb})
    runs = [OUT / name / f"seed{seed}" for name, seed in members]
    for (name, seed), path in zip(members, runs, strict=True):
        if not (path / "cv.json").exists():
            raise SystemExit(
                f"{path}: no finished CV; run `python benchmarks/recipes.py {name} --seeds {seed}`"
            )
    saved = json.loads(result_path.read_text()) if result_path.exists() else {}
    start = time.perf_counter()
    folds = []
    for fold_dir in sorted(runs[0].glob("fold*")):
        out = out_dir / fold_dir.name
        shutil.rmtree(out, ignore_errors=True)
        combine_runs([run / fold_dir.name for run in runs], out)
        ckpt = load_checkpoint(out)
        test = [r for r in rows if r["fold"] == fold_dir.name.removeprefix("fold")]
        cv = evaluate_rows(ckpt, test, adapt=False)
        folds.append(
            {
                "fold": fold_dir.name,
                "accuracy": cv["accuracy"],
                "uar": cv["uar"],
                "emodb": _brief(evaluate_rows(ckpt, emodb, adapt=False, corpus_labels=corpus)),
            }
        )
    saved[key] = {
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "command": command,
        "commit": _commit(),
        "members": [seed for _, seed in members],
        "recipes": [name for name, _ in members],
        "score_s": round(time.perf_counter() - start, 1),
        "cv_no_adapt": float(np.mean([f["accuracy"] for f in folds])),
        "cv_no_adapt_uar": float(np.mean([f["uar"] for f in folds])),
        "emodb6": float(np.mean([f["emodb"]["accuracy"] for f in folds])),
        "emodb4": float(np.mean([f["emodb"]["four_class_accuracy"] for f in folds])),
        "emodb_ece": float(np.mean([f["emodb"]["ece"] for f in folds])),
        "folds": folds,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(result_path, saved)
    print(key, json.dumps({k: v for k, v in saved[key].items() if k != "folds"}))


def _commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


def summarise(saved: dict) -> dict:
    """Mean and std over seeds (each seed: the mean over its 5 folds, or its fold ensemble)."""
    seeds = list(saved["seeds"].values())

    def ms(values) -> list[float]:
        return [float(np.mean(values)), float(np.std(values))]

    def fold_mean(seed, key):
        return float(np.mean([f[key] for f in seed["emodb"]["folds"]]))

    return {
        "seeds": len(seeds),
        "cv_no_adapt": ms([s["cv_no_adapt"] for s in seeds]),
        "cv_no_adapt_uar": ms([s["cv_no_adapt_uar"] for s in seeds]),
        "emodb6": ms([fold_mean(s, "accuracy") for s in seeds]),
        "emodb4": ms([fold_mean(s, "four_class_accuracy") for s in seeds]),
        "emodb_ece": ms([fold_mean(s, "ece") for s in seeds]),
        "ensemble_emodb6": ms([s["emodb"]["ensemble"]["accuracy"] for s in seeds]),
        "ensemble_emodb4": ms([s["emodb"]["ensemble"]["four_class_accuracy"] for s in seeds]),
        "minutes_per_seed": float(np.mean([s["train_s"] for s in seeds]) / 60),
    }


# One line per measured recipe for the docs' tables (benchmarks/tables.py); a recipe whose
# file went with its options keeps its line here, naming the settings it measured.
WHAT = {
    "previous": "the earlier default, at this size: speaker-normalised training, gain, noise, "
    "speed and SpecAugment; 20 epochs",
    "utterance-norm": "previous + each clip's per-band mean removed in the model",
    "utterance-norm-30-epochs": "utterance-norm, 30 epochs instead of 20",
    "utterance-norm-40-epochs": "utterance-norm, 40 epochs instead of 20",
    "utterance-norm-60-epochs": "utterance-norm, 60 epochs instead of 20: **the default**",
    "utterance-norm-100-epochs": "utterance-norm, 100 epochs instead of 20",
    "utterance-norm-60-epochs+wider": "the default with 12-24-48-96 channels instead of 8-16-32-64",
    "utterance-norm-60-epochs+global-norm": "the default trained on the training set's global "
    "statistics only, as `ser predict` normalises (instead of each speaker's, 10% global)",
    "level-norm": "previous + each clip's loudness removed in the model (spectral shape kept)",
    # removed from the code (their options measured worse on the folds or on EmoDB):
    "utt-norm+channel-aug": "utterance-norm + synthetic rooms (`train.augment.reverb_prob=0.3`) "
    "+ band-limiting (`band_limit_prob=0.3`)",
    "utt-norm+channel-aug+mixup": "utt-norm+channel-aug + mixup (`train.mixup=0.4`)",
    "level-norm+channel-aug": "level-norm + rooms and band-limiting (30% each) + spectral tilt "
    "(`train.augment.tilt_db=6`)",
    "level-norm+channel-aug-40-epochs": "level-norm+channel-aug, 40 epochs instead of 20",
    "utterance-norm-60-epochs+freq-flatten": "the default with the frequency axis flattened into "
    "the pooled features instead of averaged (`model_options.freq_pool=flatten`)",
    "utterance-norm-60-epochs+swa": "the default with the weights of its last 30 epochs averaged "
    "(`train.swa=0.5`)",
    "utterance-norm-60-epochs+band-shift": "the default with half the training clips shifted by "
    "-1, 0 or +1 mel band (`train.augment.pitch_prob=0.5`, `pitch_bands=1`)",
}


def main(argv: list[str]) -> None:
    if argv and argv[0] == "table":  # every table in the docs, these results' included
        from benchmarks.tables import main as write_tables

        write_tables([])
        return
    if argv and argv[0] == "mix":
        run_mix(argv[1:])
        return
    seeds = [0, 1, 2]
    ensemble = bool(argv) and argv[0] == "ensemble"
    argv = argv[1:] if ensemble else argv
    if "--seeds" in argv:
        i = argv.index("--seeds")
        seeds = [int(s) for s in argv[i + 1 :]]
        argv = argv[:i]
    for name in argv:
        recipe_file(name)  # an unknown name fails before any work
        run_ensemble(name, seeds) if ensemble else run_recipe(name, seeds)


if __name__ == "__main__":
    main(sys.argv[1:])
