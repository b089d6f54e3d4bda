"""Voices, languages and rooms the model never heard: leave-one-corpus-out over the corpora in
../shared/data (RAVDESS actors 01-20, EmoDB, ASED), as a user meets them (no adaptation).

    python benchmarks/corpora.py loco [--seeds 0 1 2] [--name NAME] [--set KEY=VALUE ...]
    python benchmarks/corpora.py ravdess-only [--seeds 0 1 2]
    python benchmarks/corpora.py folds [--seeds 0] [--name NAME] [--set KEY=VALUE ...]
    python benchmarks/corpora.py folds-calibration --seeds 0 --name NAME
    python benchmarks/corpora.py folds-ensemble --seeds 1 2 --name NAME
    python benchmarks/corpora.py folds-distil --seeds 1 2 3 --name NAME [--set KEY=VALUE ...]
    (loco and folds take --resume: continue an interrupted seed where it stopped)
    python benchmarks/corpora.py loco-ensemble --seeds 0 1 2 --name NAME
    python benchmarks/corpora.py loco-distil --seeds 0 1 2 --name NAME [--set KEY=VALUE ...]

``loco`` prepares one manifest of the three corpora (``ser prepare RAVDESS EMODB ASED``) and runs
``ser train --data MIX --cv corpus --set train.seed=S [--set ...]``: for each corpus, a model
trained on the other two (masked per-corpus loss, corpus-balanced epochs: the defaults) is
tested on every clip of the one left out, over its own classes and over angry/happy/neutral/sad.
``ravdess-only`` is the baseline scored the same way: the default recipe trained on RAVDESS
01-20 alone, tested on EmoDB and ASED. It trains nothing: the bundled model's three 60-epoch
members are exactly those runs (seeds 0-2), each scored alone; the bundled ensemble is scored too.

``folds`` is the other half of the question, whether a mix loses on the speakers of a corpus
it does train on: ``ser train --data MIX --cv 5`` (each fold holds 4 RAVDESS actors and a fifth
of every other corpus's speakers), each fold model scored per corpus on its test speakers, over
the corpus's own classes, no adaptation (results/folds-NAME.json). The RAVDESS figure compares
with the default recipe's 5-fold CV on RAVDESS alone (docs/accuracy.md). Each seed's entry also
records the softmax temperature fitted on the folds' out-of-fold predictions (``calibration``),
which calibrates a bundled model of that recipe and seed (benchmarks/train_default_model.py)
without its fold models; ``folds-calibration`` adds it to seeds trained before it was recorded.
``folds-ensemble`` trains nothing: fold K's models of the given seeds combined (``ser
ensemble``) and scored on fold K's test speakers the same way, beside the same seeds one network
at a time (results/folds-ensemble-NAME.json, keyed by the seeds combined). ``folds-distil``
then trains one student per fold with that fold's ensemble as its teacher and scores it beside
the ensemble (results/folds-distil-NAME.json).

``loco-ensemble`` trains nothing: for each corpus left out, the ``loco`` run folders of the given
seeds are combined (``ser ensemble``: the mean of their probabilities) and scored the same way,
which measures what shipping an ensemble instead of one network of the recipe would gain on
corpora never heard (results/loco-ensemble-NAME.json). ``loco-distil`` then trains, for each
corpus left out, one network of the recipe (``--set``: the recipe's settings, as for ``loco``)
on the same training corpora with that ensemble as its teacher (``train.teacher``: soft targets
on the augmented training clips) and scores it the same way (results/loco-distil-NAME.json):
one network against the ensemble it learns from, on voices, languages and rooms neither heard.

Results: benchmarks/results/loco-NAME.json, folds-NAME.json, folds-ensemble-NAME.json,
loco-ensemble-NAME.json, loco-ravdess-only.json and loco-bundled.json, one entry per seed,
written as each seed finishes (the run folders stay in bench-out/corpora/). A seed stopped midway
(Ctrl-C, or the session's end) continues with the same command and ``--resume``: finished folds
are kept, the interrupted one goes on from its last epoch, and the minutes recorded count every
attempt.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ser_cli.atomic import write_json  # noqa: E402
from ser_cli.data.manifest import write_manifest  # noqa: E402
from ser_cli.training.run_state import finished  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CORPORA = {
    "ravdess": DATA / "ravdess-speech-16k",
    "emodb": DATA / "emodb-2s",
    "ased": DATA / "ased-16k",
}
RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "bench-out" / "corpora"
FOUR = "four_class_accuracy"
DEFAULT_EPOCHS = 60  # the default recipe's schedule (the bundled 60-epoch members)


def ser(*args: object) -> None:
    """Run the user's command (this checkout's code) and stop on failure."""
    cmd = [sys.executable, "-m", "ser_cli", *map(str, args)]
    print("$ ser", " ".join(map(str, args)), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def mix_manifest() -> Path:
    """The three corpora in one manifest (prepared once; prepare is deterministic)."""
    manifest = OUT / "mix" / "manifest.csv"
    if not manifest.exists():
        ser("prepare", *CORPORA.values(), "--out", manifest.parent, "--folds", "5")
    return manifest


def left_out(name: str, seed: int):
    """Each corpus with the ``loco`` model of ``name`` and ``seed`` that never heard it: yields
    (corpus, checkpoint, clips of every scorable clip of that corpus, the corpus's own labels).
    One line naming the missing run folder and the command that trains it when there is none."""
    from ser_cli.data.manifest import read_manifest
    from ser_cli.features.clips import load_clips
    from ser_cli.inference.label_mapping import scorable_rows
    from ser_cli.models.checkpoint import load_checkpoint

    rows = read_manifest(mix_manifest())
    for corpus in CORPORA:
        run = OUT / f"loco-{name}-s{seed}" / f"without-{corpus}"
        if not run.is_dir():
            raise SystemExit(
                f"no run folder {run}; train it first: python benchmarks/corpora.py loco "
                f"--seeds {seed} --name {name} --set ... (the recipe's settings)"
            )
        ckpt = load_checkpoint(run)
        own = sorted({r["label"] for r in rows if r["corpus"] == corpus})
        test, labels = scorable_rows([r for r in rows if r["corpus"] == corpus], ckpt.labels, own)
        yield corpus, ckpt, load_clips(test, ckpt.feature_config, ckpt.labels), labels


def _command(what: str, name: str, sets: list[str]) -> str:
    """The command line a result file records (the name is shown when settings are)."""
    return f"python benchmarks/corpora.py {what} --seeds S" + (
        f" --name {name}" + "".join(f" --set {s}" for s in sets) if sets else ""
    )


def machine() -> dict:
    """What a result ran on. The CPU's vector instructions matter: the same seed of the same
    recipe trains to different weights on AVX2 and AVX-512 kernels (docs/corpora.md)."""
    import torch

    return {
        "python": platform.python_version(),
        "cpu": platform.processor(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
    }


def _save(path: Path, seed: int | str, entry: dict, command: str, summary=None) -> dict:
    """Add one seed's entry to a result file (created when missing), with ``summary`` of all
    its seeds when given.

    Each entry records the machine that measured it: seeds of one file may come from different
    sessions on different CPUs. A file's top-level ``machine`` (how results were written before)
    stays the machine of the entries that record none."""
    saved = json.loads(path.read_text()) if path.exists() else {"seeds": {}}
    saved["command"] = command
    saved["seeds"][str(seed)] = {**entry, "machine": machine()}
    if all("machine" in e for e in saved["seeds"].values()):
        saved.pop("machine", None)
    if summary is not None:
        saved["summary"] = summary(saved["seeds"])
    write_json(path, saved)
    return saved


def _record(name: str, seed: int, entry: dict, command: str) -> dict:
    saved = _save(RESULTS / f"loco-{name}.json", seed, entry, command, summarise)
    print(json.dumps(saved["summary"], indent=1))
    return saved


def summarise(seeds: dict) -> dict:
    """Per corpus and for the mean over corpora: mean and std over seeds."""
    corpora = sorted({c for s in seeds.values() for c in s["corpora"]})
    out = {}
    for key in (FOUR, "accuracy"):
        table = {}
        for corpus in corpora:
            values = [s["corpora"][corpus][key] for s in seeds.values() if corpus in s["corpora"]]
            table[corpus] = [float(np.mean(values)), float(np.std(values))]
        means = [np.mean([s["corpora"][c][key] for c in s["corpora"]]) for s in seeds.values()]
        table["mean"] = [float(np.mean(means)), float(np.std(means))]
        out[key] = table
    out["seeds"] = len(seeds)
    return out


def train_cv(out: Path, resume: bool, *args: object) -> float:
    """``ser train ... --out OUT`` (with ``--resume`` when asked and OUT was started); returns
    the minutes its training took in all, counting earlier interrupted attempts, which
    OUT.minutes.json carries from one attempt to the next."""
    clock = out.with_name(out.name + ".minutes.json")
    before = json.loads(clock.read_text())["minutes"] if resume and clock.exists() else 0.0
    started_already = out.exists()  # without --resume, ser train refuses it: keep its clock
    started = time.time()
    try:
        ser("train", *args, "--out", out, *(["--resume"] if resume and started_already else []))
    finally:  # an interrupted attempt's time counts too
        minutes = round(before + (time.time() - started) / 60, 1)
        if resume or not started_already:
            clock.write_text(json.dumps({"minutes": minutes}) + "\n")
    return minutes


def loco(seeds: list[int], name: str, sets: list[str], resume: bool = False) -> None:
    manifest = mix_manifest()
    extra = [a for s in sets for a in ("--set", s)]
    for seed in seeds:
        out = OUT / f"loco-{name}-s{seed}"
        minutes = train_cv(
            out, resume, "--data", manifest, "--cv", "corpus", "--seed", seed, *extra
        )
        report = json.loads((out / "cv.json").read_text())
        entry = {
            "minutes": minutes,
            "corpora": {
                fold["fold"]: {
                    "accuracy": fold["metrics_no_adapt"]["accuracy"],
                    "uar": fold["metrics_no_adapt"]["uar"],
                    FOUR: fold["metrics_no_adapt"].get(FOUR),
                    "adapted_" + FOUR: fold["metrics"].get(FOUR),
                    "labels": fold["labels"],
                    "minutes": round(fold["seconds"] / 60, 1),
                }
                for fold in report["folds"]
            },
        }
        _record(name, seed, entry, _command("loco", name, sets))


def folds(seeds: list[int], name: str, sets: list[str], resume: bool = False) -> None:
    from ser_cli.models.checkpoint import load_checkpoint

    manifest = mix_manifest()
    with manifest.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    extra = [a for s in sets for a in ("--set", s)]
    for seed in seeds:
        out = OUT / f"folds-{name}-s{seed}"
        minutes = train_cv(out, resume, "--data", manifest, "--cv", "5", "--seed", seed, *extra)
        scores: dict[str, list] = {}
        for fold_dir in sorted(out.glob("fold*")):
            fold = fold_dir.name.removeprefix("fold")
            _score_fold(load_checkpoint(fold_dir, "best"), rows, fold, scores)
        entry = {
            "minutes": minutes,
            "corpora": _clip_weighted(scores),  # over the 5 folds, as `ser train --cv` reports
            # what a bundle of this recipe and seed is calibrated with, kept with the figures
            # so that the bundle can be rebuilt once the fold models are gone
            "calibration": oof_calibration(out, rows),
        }
        _save(RESULTS / f"folds-{name}.json", seed, entry, _command("folds", name, sets))
        print(json.dumps(entry, indent=1))


def _resume(run: Path) -> tuple[str, ...]:
    """``--resume`` for a run folder a killed `ser train` left with a complete epoch in it."""
    return ("--resume",) if (run / "last.json").exists() else ()


def _score_fold(ckpt, rows: list[dict], fold: str, scores: dict[str, list]) -> None:
    """Add a fold model's accuracy on each corpus's clips of ``fold`` (over the corpus's own
    classes, no adaptation) to ``scores``: corpus -> [(accuracy, clips), ...]."""
    from ser_cli.inference.evaluate import evaluate_rows

    for corpus in CORPORA:
        test = [r for r in rows if r["corpus"] == corpus and r["fold"] == fold]
        own = sorted({r["label"] for r in test})
        m = evaluate_rows(ckpt, test, adapt=False, corpus_labels=own)
        scores.setdefault(corpus, []).append((m["accuracy"], len(test)))


def _clip_weighted(scores: dict[str, list]) -> dict[str, float]:
    """Each corpus's accuracy over all its folds' clips, from :func:`_score_fold`'s scores."""
    return {c: sum(a * n for a, n in v) / sum(n for _, n in v) for c, v in scores.items()}


def oof_calibration(folder: Path, rows: list[dict]) -> dict:
    """The softmax temperature fitted on a cross-validation's out-of-fold predictions: every
    clip of ``rows`` predicted, without adaptation, by the model of ``folder/foldK`` for its
    ``fold`` K, which never heard its speaker (as a user's clips are); with the expected
    calibration error before and after. SystemExit when ``folder`` holds no fold models."""
    from ser_cli.inference.calibration import (
        PROB_FLOOR,
        expected_calibration_error,
        fit_temperature,
        scaled_probabilities,
    )
    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.models.checkpoint import load_checkpoint

    probs, targets = [], []
    # fold models only: a distillation folder also holds each fold's manifest (foldK.csv)
    for fold_dir in sorted(d for d in folder.glob("fold*") if d.is_dir()):
        ckpt = load_checkpoint(fold_dir, "best")
        test = [r for r in rows if r["fold"] == fold_dir.name.removeprefix("fold")]
        for p in evaluate_rows(ckpt, test, adapt=False, per_file=True)["predictions"]:
            probs.append([p["probabilities"][n] for n in ckpt.labels])
            targets.append(ckpt.labels.index(p["label"]))
    if not probs:
        raise SystemExit(f"{folder}: no fold models to fit a temperature on")
    log_probs = np.log(np.maximum(np.asarray(probs), PROB_FLOOR))
    y = np.asarray(targets)
    temperature = fit_temperature(log_probs, y)
    return {
        "temperature": temperature,
        "clips": len(y),
        "val_ece_before": expected_calibration_error(np.exp(log_probs), y),
        "val_ece_after": expected_calibration_error(
            scaled_probabilities(log_probs, temperature), y
        ),
    }


def folds_calibration(seeds: list[int], name: str) -> None:
    """Add ``calibration`` (:func:`oof_calibration`) to folds-NAME.json's entries of seeds
    trained before folds recorded it, from their run folders; nothing else in an entry moves."""
    path = RESULTS / f"folds-{name}.json"
    if not path.exists():
        raise SystemExit(f"{path}: no such result; run `python benchmarks/corpora.py folds` first")
    with mix_manifest().open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    saved = json.loads(path.read_text())
    for seed in seeds:
        if str(seed) not in saved["seeds"]:
            raise SystemExit(
                f"{path}: no seed {seed}; train it with `corpora.py folds --seeds {seed}`"
            )
        saved["seeds"][str(seed)]["calibration"] = oof_calibration(
            OUT / f"folds-{name}-s{seed}", rows
        )
        write_json(path, saved)
        print(seed, json.dumps(saved["seeds"][str(seed)]["calibration"]))


def folds_ensemble(seeds: list[int], name: str) -> None:
    """The speaker folds of several seeds combined fold by fold: fold K's networks of every
    seed in one `ser ensemble` (the mean of their probabilities), scored like ``folds`` on fold
    K's test speakers, each corpus over its own classes. Trains nothing. Beside it the result
    file keeps the same seeds' figures one network at a time, from folds-NAME.json, so the
    ensemble's gain over one network is read from one file (issue 20: ship the ensemble only
    if one network loses more than a point)."""
    from ser_cli.models.checkpoint import load_checkpoint
    from ser_cli.models.combine import combine_runs

    if len(seeds) < 2:
        raise SystemExit("folds-ensemble combines the runs of two or more seeds: give --seeds")
    singles = RESULTS / f"folds-{name}.json"
    recorded = json.loads(singles.read_text())["seeds"] if singles.exists() else {}
    missing = [s for s in seeds if str(s) not in recorded]
    if missing:
        raise SystemExit(
            f"{singles}: no seed {', '.join(map(str, missing))}; run `corpora.py folds` first"
        )
    with mix_manifest().open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    folds_of = sorted({r["fold"] for r in rows if r.get("fold", "") != ""})
    runs = {
        fold: [OUT / f"folds-{name}-s{seed}" / f"fold{fold}" for seed in seeds] for fold in folds_of
    }
    gone = [str(r) for fold in folds_of for r in runs[fold] if not finished(r)]
    if gone:
        raise SystemExit(
            f"{gone[0]}{' and others' if len(gone) > 1 else ''}: no fold model; "
            "run `corpora.py folds` for that seed on this machine"
        )
    out = OUT / f"folds-ensemble-{name}-s{'-'.join(map(str, seeds))}"
    scores: dict[str, list] = {}
    for fold in folds_of:
        if not (out / f"fold{fold}" / "best.json").exists():
            combine_runs(runs[fold], out / f"fold{fold}")
        _score_fold(load_checkpoint(out / f"fold{fold}"), rows, fold, scores)
    entry = {
        "members": [f"folds-{name}-s{seed}" for seed in seeds],
        "corpora": _clip_weighted(scores),  # over the folds, as `folds` reports
        "one_network": {str(s): recorded[str(s)]["corpora"] for s in seeds},
        # what a bundle of these seeds' ensemble would be calibrated with
        "calibration": oof_calibration(out, rows),
    }
    key = "-".join(map(str, seeds))
    command = f"python benchmarks/corpora.py folds-ensemble --seeds {' '.join(map(str, seeds))} --name {name}"
    saved = _save(RESULTS / f"folds-ensemble-{name}.json", key, entry, command)
    print(json.dumps(saved["seeds"][key], indent=1))


def folds_distil(seeds: list[int], name: str, sets: list[str], student_seed: int = 0) -> None:
    """One network per speaker fold taught by that fold's ensemble (``folds-ensemble`` of the
    same seeds): trained on the fold's training speakers with ``train.teacher`` (``--set``: the
    recipe's settings, as for ``folds``) and scored like ``folds`` on the fold's test speakers,
    beside the ensemble it learned from (results/folds-distil-NAME.json). Issue 20: one network
    is shipped unless it loses more than a point to the ensemble it would replace."""
    from ser_cli.models.checkpoint import load_checkpoint

    key = "-".join(map(str, seeds))
    ensembles = RESULTS / f"folds-ensemble-{name}.json"
    recorded = json.loads(ensembles.read_text())["seeds"] if ensembles.exists() else {}
    teachers = OUT / f"folds-ensemble-{name}-s{key}"
    with mix_manifest().open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    folds_of = sorted({r["fold"] for r in rows if r.get("fold", "") != ""})
    missing = [f for f in folds_of if not (teachers / f"fold{f}" / "best.json").exists()]
    if key not in recorded or missing:
        raise SystemExit(
            f"{teachers}: no fold ensembles of seeds {key}; run `corpora.py folds-ensemble "
            f"--seeds {' '.join(map(str, seeds))} --name {name}` first"
        )
    extra = [a for s in sets for a in ("--set", s)]
    out = OUT / f"folds-distil-{name}-s{student_seed}"
    out.mkdir(parents=True, exist_ok=True)
    scores: dict[str, list] = {}
    started = time.time()
    for fold in folds_of:
        run = out / f"fold{fold}"
        if not finished(run):  # a finished student is kept, a killed one continues
            manifest = write_manifest(
                [{**r, "split": "test" if r["fold"] == fold else "train"} for r in rows],
                out / f"fold{fold}.csv",
            )
            ser("train", "--data", manifest, "--seed", student_seed, "--out", run, *extra,
                "--set", f"train.teacher={teachers / f'fold{fold}'}", *_resume(run))  # fmt: skip
        _score_fold(load_checkpoint(run), rows, fold, scores)
    entry = {
        "teachers": teachers.name,
        "minutes": round((time.time() - started) / 60, 1),
        "corpora": _clip_weighted(scores),  # over the folds, as `folds` reports
        "ensemble": recorded[key]["corpora"],
        # what a bundle distilled the same way is calibrated with (as `folds` records)
        "calibration": oof_calibration(out, rows),
    }
    command = (
        f"python benchmarks/corpora.py folds-distil --seeds {' '.join(map(str, seeds))} "
        f"--name {name}" + "".join(f" --set {s}" for s in sets)
    )
    saved = _save(RESULTS / f"folds-distil-{name}.json", student_seed, entry, command)
    print(json.dumps(saved["seeds"][str(student_seed)], indent=1))


def loco_ensemble(seeds: list[int], name: str) -> None:
    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.models.checkpoint import load_checkpoint
    from ser_cli.models.combine import combine_runs

    if len(seeds) < 2:
        raise SystemExit("loco-ensemble combines the runs of two or more seeds: give --seeds")
    with mix_manifest().open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = OUT / f"loco-ensemble-{name}-s{'-'.join(map(str, seeds))}"
    corpora = {}
    for corpus in CORPORA:
        runs = [OUT / f"loco-{name}-s{seed}" / f"without-{corpus}" for seed in seeds]
        missing = [str(r) for r in runs if not (r / "best.json").exists()]
        if missing:
            raise SystemExit(f"{', '.join(missing)}: not trained; run `corpora.py loco` first")
        if not (out / corpus / "best.json").exists():
            combine_runs(runs, out / corpus)
        test = [r for r in rows if r["corpus"] == corpus]
        own = sorted({r["label"] for r in test})
        m = evaluate_rows(load_checkpoint(out / corpus), test, adapt=False, corpus_labels=own)
        corpora[corpus] = {
            "accuracy": m["accuracy"],
            "uar": m["uar"],
            FOUR: m["four_class"]["accuracy"],
            "labels": own,
        }
    entry = {"members": [f"loco-{name}-s{seed}" for seed in seeds], "corpora": corpora}
    command = f"python benchmarks/corpora.py loco-ensemble --seeds {' '.join(map(str, seeds))} --name {name}"
    saved = _save(RESULTS / f"loco-ensemble-{name}.json", 0, entry, command, summarise)
    print(json.dumps(saved["summary"], indent=1))


def loco_distil(seeds: list[int], name: str, sets: list[str], student_seed: int = 0) -> None:
    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.models.checkpoint import load_checkpoint

    teachers = OUT / f"loco-ensemble-{name}-s{'-'.join(map(str, seeds))}"
    with mix_manifest().open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    extra = [a for s in sets for a in ("--set", s)]
    out = OUT / f"loco-distil-{name}-s{student_seed}"
    out.mkdir(parents=True, exist_ok=True)
    corpora, started = {}, time.time()
    for corpus in CORPORA:
        teacher = teachers / corpus
        if not (teacher / "best.json").exists():
            raise SystemExit(f"{teacher}: no ensemble; run `corpora.py loco-ensemble` first")
        run = out / f"without-{corpus}"
        if not finished(run):  # a finished student is kept, a killed one continues
            manifest = write_manifest(
                [{**r, "split": "test" if r["corpus"] == corpus else "train"} for r in rows],
                out / f"without-{corpus}.csv",
            )
            ser("train", "--data", manifest, "--seed", student_seed, "--out", run, *extra,
                "--set", f"train.teacher={teacher}", *_resume(run))  # fmt: skip
        test = [r for r in rows if r["corpus"] == corpus]
        own = sorted({r["label"] for r in test})
        m = evaluate_rows(load_checkpoint(run), test, adapt=False, corpus_labels=own)
        corpora[corpus] = {
            "accuracy": m["accuracy"],
            "uar": m["uar"],
            FOUR: m["four_class"]["accuracy"],
            "labels": own,
        }
    entry = {
        "teachers": teachers.name,
        "minutes": round((time.time() - started) / 60, 1),
        "corpora": corpora,
    }
    command = (
        f"python benchmarks/corpora.py loco-distil --seeds {' '.join(map(str, seeds))} --name {name}"
        + "".join(f" --set {s}" for s in sets)
    )
    saved = _save(RESULTS / f"loco-distil-{name}.json", student_seed, entry, command, summarise)
    print(json.dumps(saved["summary"], indent=1))


def _score_other_corpora(ckpt, rows: list[dict]) -> dict:
    """A RAVDESS-only model on every EmoDB and ASED clip, no adaptation and adapted."""
    from ser_cli.inference.evaluate import evaluate_rows

    corpora = {}
    for corpus in ("emodb", "ased"):
        test = [r for r in rows if r["corpus"] == corpus]
        own = sorted({r["label"] for r in test})
        m = evaluate_rows(ckpt, test, adapt=False, corpus_labels=own)
        a = evaluate_rows(ckpt, test, adapt=True, corpus_labels=own)
        corpora[corpus] = {
            "accuracy": m["accuracy"],
            "uar": m["uar"],
            FOUR: m["four_class"]["accuracy"],
            "adapted_" + FOUR: a["four_class"]["accuracy"],
            "labels": list(m["labels"]),
        }
    return corpora


def ravdess_only(seeds: list[int]) -> None:
    """The single-corpus baseline without training anything: the bundled model's 60-epoch
    members are runs of the default recipe on RAVDESS 01-20 (seeds 0-2), each scored alone,
    and the whole bundled ensemble as well."""
    import dataclasses

    from ser_cli.models.checkpoint import load_checkpoint
    from ser_cli.paths import bundled_model_dir

    with mix_manifest().open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    bundled = load_checkpoint(bundled_model_dir())
    info = bundled.meta["ensemble"]
    for seed in seeds:
        index = next(
            i for i, (s, e) in enumerate(zip(info["seeds"], info["epochs"], strict=True))
            if s == seed and e == DEFAULT_EPOCHS
        )  # fmt: skip
        member = dataclasses.replace(bundled, model=bundled.model.members[index])
        entry = {"member": info["runs"][index], "corpora": _score_other_corpora(member, rows)}
        _record("ravdess-only", seed, entry, "python benchmarks/corpora.py ravdess-only --seeds S")
    entry = {"members": info["runs"], "corpora": _score_other_corpora(bundled, rows)}
    _record("bundled", 0, entry, "python benchmarks/corpora.py ravdess-only")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "what",
        choices=(
            "loco",
            "ravdess-only",
            "folds",
            "folds-calibration",
            "folds-ensemble",
            "folds-distil",
            "loco-ensemble",
            "loco-distil",
        ),
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--name", default="default")
    parser.add_argument("--set", dest="sets", action="append", default=[])
    parser.add_argument(
        "--resume",
        action="store_true",
        help="loco, folds: continue an interrupted seed's run folder (ser train --resume)",
    )
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.what == "loco":
        loco(args.seeds, args.name, args.sets, args.resume)
    elif args.what == "folds":
        folds(args.seeds, args.name, args.sets, args.resume)
    elif args.what == "folds-calibration":
        folds_calibration(args.seeds, args.name)
    elif args.what == "folds-ensemble":
        folds_ensemble(args.seeds, args.name)
    elif args.what == "folds-distil":
        folds_distil(args.seeds, args.name, args.sets)
    elif args.what == "loco-ensemble":
        loco_ensemble(args.seeds, args.name)
    elif args.what == "loco-distil":
        loco_distil(args.seeds, args.name, args.sets)
    else:
        ravdess_only(args.seeds)


if __name__ == "__main__":
    main(sys.argv[1:])
