"""Reproduce the bundled default model from recipes/bundle.yaml.

    python benchmarks/train_default_model.py [--data-root ../shared/data]

It prepares the members' corpora with `ser prepare`, marks every clip as training data (the
recipe's speaker-independent accuracy is measured separately, per fold: docs/accuracy.md),
trains each member with `ser train --config recipes/RECIPE.yaml --seed SEED`, combines the runs
with `ser ensemble`, and copies the checkpoint and MODEL.md into ser_cli/assets/default_model/.
``--reuse-runs`` keeps member runs that already finished in the work folder (same command)
instead of training them again.

With no clip left for validation, the softmax temperature is fitted on the out-of-fold
predictions of the same members' 5-fold cross-validation (``--calibrate-on``: the per-fold
ensembles of `python benchmarks/recipes.py mix` over the members' recipes and seeds): every clip
is predicted by an ensemble that never heard its actor, without adaptation, as a user's clips are.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SER = str(Path(sys.executable).with_name("ser"))
TARGET = ROOT / "ser_cli" / "assets" / "default_model"
BUNDLE_FILE = ROOT / "recipes" / "bundle.yaml"  # the members: recipe, seed, corpora
DATA_ROOT = ROOT.parent / "shared" / "data"  # where a member's corpora are folders

sys.path.insert(0, str(ROOT))
from benchmarks.recipes import DEFAULT_RECIPE, recipe_file  # noqa: E402


@dataclass(frozen=True)
class Member:
    """One run of the bundled ensemble: `ser train --config recipes/RECIPE.yaml --seed SEED`
    on every clip of ``corpora`` (folders under the data root)."""

    recipe: str
    seed: int
    corpora: tuple[str, ...]


def read_bundle(path: Path = BUNDLE_FILE) -> list[Member]:
    """The members listed in recipes/bundle.yaml, each recipe checked to have its file."""
    import yaml

    members = []
    for item in yaml.safe_load(path.read_text())["members"]:
        recipe_file(item["recipe"])  # SystemExit naming the recipes when it has no file
        members.append(Member(item["recipe"], int(item["seed"]), tuple(item["corpora"])))
    return members


def member_specs(bundle: list[Member] | None = None) -> list[str]:
    """The members as `recipes.py mix` names them (RECIPE:SEED)."""
    return [f"{m.recipe}:{m.seed}" for m in bundle or read_bundle()]


def run_name(recipe: str, seed: int) -> str:
    """A member's run folder in the work folder (the default recipe's keep their old names)."""
    suffix = "" if recipe == DEFAULT_RECIPE else "-" + recipe.removeprefix("utterance-norm-")
    return f"run-seed{seed}{suffix}"


def calibration_folds(bundle: list[Member] | None = None) -> Path:
    """The CV folders whose out-of-fold predictions fit the bundle's temperature."""
    from benchmarks.recipes import mix_dir

    return mix_dir(member_specs(bundle))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-root", default=str(DATA_ROOT), help="Folder holding the members' corpora."
    )
    parser.add_argument("--work", default=str(ROOT / "bench-out" / "default-model"))
    parser.add_argument(
        "--card-only", action="store_true", help="Only rewrite MODEL.md from the measured results."
    )
    parser.add_argument(
        "--reuse-runs",
        action="store_true",
        help="Keep member runs already finished in --work (trained by this script) instead of retraining.",
    )
    parser.add_argument(
        "--calibrate-on",
        default=str(calibration_folds()),
        help="A `ser train --cv 5` folder of the same recipe: its fold models' test predictions fit T.",
    )
    args = parser.parse_args()
    if args.card_only:
        write_card()
        return
    work = Path(args.work)
    bundle = read_bundle()
    corpora = {m.corpora for m in bundle}
    if len(corpora) != 1:  # `ser ensemble` combines runs trained on one training set
        raise SystemExit(f"{BUNDLE_FILE}: every member must train on the same corpora")
    folders = [str(Path(args.data_root) / name) for name in next(iter(corpora))]
    # several corpora make one manifest with a corpus column (speakers prefixed by corpus)
    subprocess.run([SER, "prepare", *folders, "--out", str(work / "prepared")], check=True)
    with open(work / "prepared" / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["split"] = "train"
    with open(work / "manifest-all.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    runs = []
    for member in bundle:
        run = work / run_name(member.recipe, member.seed)
        runs.append(run)
        if args.reuse_runs and (run / "best.json").exists():
            print(f"{run.name}: reused")
            continue
        shutil.rmtree(run, ignore_errors=True)
        start = time.perf_counter()
        cmd = [SER, "train", "--config", str(recipe_file(member.recipe))]
        cmd += ["--data", str(work / "manifest-all.csv"), "--out", str(run)]
        cmd += ["--seed", str(member.seed)]
        subprocess.run(cmd, check=True)
        print(f"{run.name} trained in {(time.perf_counter() - start) / 60:.1f} min")
    if len(runs) > 1:
        run = work / "ensemble"
        shutil.rmtree(run, ignore_errors=True)
        # run folder names relative to the work folder: the sidecar records them as given
        subprocess.run(
            [SER, "ensemble", *(r.name for r in runs), "--out", run.name], check=True, cwd=work
        )
        shutil.copy2(runs[0] / "config.yaml", run / "config.yaml")
    calibrate(run, Path(args.calibrate_on), ROOT / "bench-out" / "ravdess")  # its folds
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in ("best.safetensors", "best.json", "config.yaml"):
        shutil.copy2(run / name, TARGET / name)
    write_card()
    print(f"bundled model written to {TARGET}")


def calibrate(run: Path, cv_dir: Path, prepared: Path) -> None:
    """Fit the bundled model's temperature on the out-of-fold predictions of ``cv_dir``."""
    import numpy as np

    from ser_cli.atomic import write_json
    from ser_cli.data.manifest import read_manifest
    from ser_cli.inference.calibration import (
        PROB_FLOOR,
        expected_calibration_error,
        fit_temperature,
        scaled_probabilities,
    )
    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.models.checkpoint import load_checkpoint, read_sidecar

    rows = read_manifest(prepared)
    probs, targets = [], []
    for fold_dir in sorted(cv_dir.glob("fold*")):
        fold = fold_dir.name.removeprefix("fold")
        ckpt = load_checkpoint(fold_dir, "best")
        test = [r for r in rows if r["fold"] == fold]
        report = evaluate_rows(ckpt, test, adapt=False, per_file=True)
        for p in report["predictions"]:
            probs.append([p["probabilities"][n] for n in ckpt.labels])
            targets.append(ckpt.labels.index(p["label"]))
    if not probs:
        raise SystemExit(f"{cv_dir}: no fold models to calibrate on; run benchmarks/recipes.py")
    log_probs = np.log(np.maximum(np.asarray(probs), PROB_FLOOR))
    targets = np.asarray(targets)
    temperature = fit_temperature(log_probs, targets)
    meta = read_sidecar(run, "best")
    meta["calibration"] = {
        "temperature": temperature,
        "fitted_on": (
            "out-of-fold predictions of the members' recipes in 5-fold CV "
            f"(`python benchmarks/recipes.py mix {' '.join(member_specs())}`)"
            if cv_dir.resolve() == calibration_folds().resolve()
            else f"out-of-fold predictions of the 5-fold CV in {cv_dir.name}"
        ),
        "clips": len(targets),
        "val_ece_before": expected_calibration_error(np.exp(log_probs), targets),
        "val_ece_after": expected_calibration_error(
            scaled_probabilities(log_probs, temperature), targets
        ),
    }
    write_json(run / "best.json", meta)
    print(
        f"temperature {temperature:.3f} (out-of-fold ECE {meta['calibration']['val_ece_before']:.3f} -> {meta['calibration']['val_ece_after']:.3f})"
    )


# What the card says about each corpus a member may train on (folders under the data root):
# the data, and the licence its weights carry (../shared/data/README.md).
CORPUS_CARDS = {
    "ravdess-speech-16k": (
        "RAVDESS speech, audio-only, actors {speakers} (1,200 clips, 16 kHz; acted, read English "
        "sentences, 20 North American actors, one studio)",
        "RAVDESS is released under Creative Commons Attribution-NonCommercial-ShareAlike 4.0 "
        "(CC BY-NC-SA 4.0): use the weights non-commercially and share derivatives alike. Cite: "
        "Livingstone SR, Russo FA (2018) The Ryerson Audio-Visual Database of Emotional Speech "
        "and Song (RAVDESS). PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391.",
    ),
    "emodb-2s": (
        "EmoDB (Berlin Database of Emotional Speech: 10 German actors, 535 clips cut or padded "
        "to 2 s; angry, happy, neutral, sad, fearful, disgust; boredom left out)",
        "EmoDB is distributed freely for research; cite: Burkhardt F, Paeschke A, Rolfes M, "
        "Sendlmeier W, Weiss B (2005) A database of German emotional speech. Proc. Interspeech "
        "2005, 1517-1520.",
    ),
    "ased-16k": (
        "ASED v1 (Amharic Speech Emotional Dataset: 65 speakers, 2,474 clips; neutral, fearful, "
        "happy, sad, angry)",
        "ASED states no licence; use it for research and cite: Retta EA et al. (2023) A new "
        "Amharic speech emotion dataset and classification benchmark. ACM Transactions on Asian "
        "and Low-Resource Language Information Processing.",
    ),
}


def corpus_card(corpora: tuple[str, ...], speakers: str) -> tuple[str, str]:
    """The card's training-data sentence and licence paragraph(s) for a member's corpora."""
    unknown = [c for c in corpora if c not in CORPUS_CARDS]
    if unknown:
        raise SystemExit(f"{', '.join(unknown)}: no card text; add it to CORPUS_CARDS")
    data = "; ".join(CORPUS_CARDS[c][0].format(speakers=speakers) for c in corpora)
    licence = "\n\n".join(CORPUS_CARDS[c][1] for c in corpora)
    return data, licence


def write_card() -> None:
    """MODEL.md from the sidecar, the recipe's cross-validation over seeds and EmoDB."""
    meta = json.loads((TARGET / "best.json").read_text())
    recipe_path = ROOT / "benchmarks" / "results" / f"recipe-{DEFAULT_RECIPE}.json"
    cross_path = ROOT / "benchmarks" / "results" / "crosscorpus-emodb.json"
    if recipe_path.exists():
        from benchmarks.recipes import summarise

        saved = json.loads(recipe_path.read_text())
        s = summarise(saved)

        def ms(key):
            return f"{s[key][0]:.1%} ± {s[key][1]:.1%}"

        command = next(iter(saved["seeds"].values()))["command"]
        accuracy = (
            f"The recipe `{DEFAULT_RECIPE}` in speaker-disjoint 5-fold cross-validation on the same "
            f"20 actors, {s['seeds']} seeds (mean ± std over seeds; `python benchmarks/recipes.py "
            f"{DEFAULT_RECIPE}`, which runs `{command}` per seed):\n\n"
            f"| unseen actors, no adaptation | weighted accuracy | UAR |\n|---|---|---|\n"
            f"| RAVDESS, 4 unseen actors per fold | {ms('cv_no_adapt')} | {ms('cv_no_adapt_uar')} |\n\n"
            f"The fold models on EmoDB (German, other actors and studio; no adaptation): "
            f"{ms('emodb6')} over its 6 classes, {ms('emodb4')} over angry/happy/neutral/sad.\n"
        )
    else:
        accuracy = f"Not measured yet: run `python benchmarks/recipes.py {DEFAULT_RECIPE}`.\n"
    if cross_path.exists():
        cross = json.loads(cross_path.read_text())
        rows = [
            f"| {name} (`{run['command']}`) | {run['accuracy']:.1%} | {run['uar']:.1%} | "
            f"{run['four_class']['accuracy']:.1%} | {run['ece']:.3f} |"
            for name, run in (("no adaptation", cross["no_adapt"]), ("adapted", cross["adapted"]))
        ]
        accuracy += (
            f"\nThis model on all {cross['no_adapt']['clips']} EmoDB clips (`python benchmarks/run.py "
            f"crosscorpus`, measured {cross['measured']}):\n\n| EmoDB | acc (6) | UAR (6) | "
            f"acc (4) | ECE |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
        )
    ensemble = meta.get("ensemble")
    members = ""
    if ensemble:
        seeds, epochs = ensemble["seeds"], ensemble.get("epochs") or [None] * len(ensemble["seeds"])
        trained = ", ".join(
            f"seed {s}" + (f" ({e} epochs)" if e else "")
            for s, e in zip(seeds, epochs, strict=True)
        )
        members = (
            f" An ensemble of {len(seeds)} such models (`ser ensemble`: the mean of their "
            f"probabilities): {trained}."
        )
        mix_path = ROOT / "benchmarks" / "results" / "ensemble-mix.json"
        key = "+".join(member_specs())
        measured = json.loads(mix_path.read_text()).get(key) if mix_path.exists() else None
        if measured:
            accuracy += (
                f"\nThe same ensemble per fold (its {len(seeds)} members' fold models combined; "
                f"`{measured['command']}`): {measured['cv_no_adapt']:.1%} weighted accuracy "
                f"({measured['cv_no_adapt_uar']:.1%} UAR) on the unseen RAVDESS actors without "
                f"adaptation, {measured['emodb6']:.1%} / {measured['emodb4']:.1%} on EmoDB "
                "(6 / 4 classes).\n"
            )
    calibration = meta.get("calibration", {})
    speakers = ", ".join(meta.get("train_speakers", []))
    data, licence = corpus_card(read_bundle()[0].corpora, speakers)
    card = f"""# ser default model

- **Architecture:** `{meta["model"]}` (residual 2-D CNN + attentive statistics pooling), config `{json.dumps(meta["model_config"])}`.{members}
- **Input:** 16 kHz mono audio -> {meta["feature_config"]["n_mels"]}-band log-mel, 10 ms hop (`{json.dumps(meta["feature_config"])}`).
- **Recipe:** `{DEFAULT_RECIPE}` (recipes/{DEFAULT_RECIPE}.yaml, members in recipes/bundle.yaml; docs/accuracy.md); training settings `{json.dumps(meta["train_config"])}`.
- **Calibration:** softmax temperature {calibration.get("temperature", 1.0):.3f}, fitted on {calibration.get("fitted_on", "nothing (uncalibrated)")}.
- **Labels:** {", ".join(meta["labels"])}.
- **Training data:** {data}, every clip used for training; the default `ser train` recipe ({meta["train_config"]["epochs"]} epochs{"; members as listed above" if ensemble else ""}). Rebuild with `python benchmarks/train_default_model.py`.
- **Normalisation:** per speaker when the speaker is known (`ser predict --adapt all|folder`, `ser eval`, `ser listen` adapts to the stream); training-set statistics otherwise.

## Accuracy

{accuracy}
The model in this folder was trained on all 20 actors, so no held-out figure exists for it; the numbers above are for the same recipe on unseen actors.

## Known limits

- Acted, read English sentences by 20 North American actors in a studio: expect lower accuracy on spontaneous speech, other languages, accents, children, noise, far-field or telephone audio.
- Calm and neutral are easily confused, as are fearful/surprised and sad/calm.
- On a corpus it never heard (EmoDB) sad mostly comes out neutral, and angry and happy are
  often taken for each other or for disgust; trust `--min-confidence` and the probabilities
  more than the top label there.
- Emotions are acted portrayals, not felt states; a prediction is a probability over eight categories, not a diagnosis.
- Clips of 1-5 s work best; longer recordings are windowed (`ser predict --window`).

## Licence

The weights are derived from the corpora above and carry their terms.

{licence}
"""
    (TARGET / "MODEL.md").write_text(card)


if __name__ == "__main__":
    main()
