"""Reproduce the bundled default model from recipes/bundle.yaml.

    python benchmarks/train_default_model.py [--data-root ../shared/data]

It prepares the members' corpora with `ser prepare` (several corpora make one manifest), marks
every clip as training data (the recipe's speaker- and corpus-independent accuracy is measured
separately: docs/corpora.md), trains each member with
`ser train --config recipes/RECIPE.yaml --seed SEED`, combines several with `ser ensemble`, and
copies the checkpoint, its ONNX export (what `--model default` runs on the CPU) and MODEL.md
into ser_cli/assets/default_model/. ``--reuse-runs`` keeps
member runs that already finished in the work folder (same command) instead of training them
again, and continues those a killed rebuild left part-trained (``ser train --resume``).

With no clip left for validation, the softmax temperature is fitted on the out-of-fold
predictions of the same recipe's 5-fold cross-validation on the same corpora (see
``calibration_folds``): every clip is predicted by a model that never heard its speaker, without
adaptation, as a user's clips are. For a bundle on several corpora, the temperature that
`benchmarks/corpora.py folds` recorded for the member's seed is used when the result file has
it, so the fold models need not be on the machine.
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
from ser_cli.paths import BUNDLED_ONNX  # noqa: E402
from ser_cli.training.run_state import finished  # noqa: E402


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


def read_student(path: Path = BUNDLE_FILE) -> int | None:
    """The seed of the one network the members teach (recipes/bundle.yaml's ``student``), or
    None when the members themselves are bundled."""
    import yaml

    student = yaml.safe_load(path.read_text()).get("student")
    if student is None:
        return None
    seed = student.get("seed") if isinstance(student, dict) else None
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise SystemExit(f"{path}: 'student' is {student!r}; write `student: {{seed: 0}}`")
    return seed


def member_specs(bundle: list[Member] | None = None) -> list[str]:
    """The members as `recipes.py mix` names them (RECIPE:SEED)."""
    return [f"{m.recipe}:{m.seed}" for m in bundle or read_bundle()]


def run_name(recipe: str, seed: int) -> str:
    """A member's run folder in the work folder (the default recipe's keep their old names)."""
    suffix = "" if recipe == DEFAULT_RECIPE else "-" + recipe.removeprefix("utterance-norm-")
    return f"run-seed{seed}{suffix}"


@dataclass(frozen=True)
class Folds:
    """A 5-fold cross-validation of the bundle's recipe: its fold runs (``folder/fold*``), the
    manifest whose ``fold`` column they left out, and the command that trains them."""

    folder: Path
    manifest: Path
    command: str
    # the fitted temperature as the folds' result file recorded it (benchmarks/corpora.py
    # folds), used instead of the fold models, which a later session may no longer have
    recorded: dict | None = None


def calibration_folds(bundle: list[Member] | None = None, student: int | None = None) -> Folds:
    """The cross-validation whose out-of-fold predictions fit the bundle's temperature.

    RAVDESS-only members: the per-fold ensembles of `python benchmarks/recipes.py mix`. Members
    of one recipe on the three corpora of `benchmarks/corpora.py`: that recipe's `folds` run for
    one member, its `folds-ensemble` of the members' seeds for several, and its `folds-distil`
    (students taught by those ensembles) when the bundle is their ``student``."""
    from benchmarks import corpora
    from benchmarks.recipes import mix_dir

    bundle = bundle or read_bundle()
    if {m.corpora for m in bundle} == {("ravdess-speech-16k",)}:
        specs = " ".join(member_specs(bundle))
        return Folds(
            mix_dir(member_specs(bundle)),
            ROOT / "bench-out" / "ravdess",
            f"python benchmarks/recipes.py mix {specs}",
        )
    mixed = tuple(path.name for path in corpora.CORPORA.values())
    if len({m.recipe for m in bundle}) != 1 or any(set(m.corpora) != set(mixed) for m in bundle):
        raise SystemExit(
            f"{BUNDLE_FILE}: a bundle on several corpora is members of one recipe on "
            f"{', '.join(mixed)} (its calibration folds come from `python benchmarks/corpora.py`)"
        )
    recipe, seeds = bundle[0].recipe, [m.seed for m in bundle]
    key, listed = "-".join(map(str, seeds)), " ".join(map(str, seeds))
    sets = "".join(f" --set {s}" for s in recipe_overrides(recipe))
    if student is not None:  # folds-distil: a student per fold, taught by the fold's ensemble
        measure, entry_key, folder = "folds-distil", str(student), f"s{student}"
        command = f"folds-distil --seeds {listed} --name {recipe}{sets}"
    elif len(bundle) > 1:
        measure, entry_key, folder = "folds-ensemble", key, f"s{key}"
        command = f"folds-ensemble --seeds {listed} --name {recipe}"
    else:
        measure, entry_key, folder = "folds", key, f"s{key}"
        command = f"folds --seeds {key} --name {recipe}{sets}"
    result = corpora.RESULTS / f"{measure}-{recipe}.json"
    entry = json.loads(result.read_text())["seeds"].get(entry_key, {}) if result.exists() else {}
    if student is not None and entry.get("teachers") != f"folds-ensemble-{recipe}-s{key}":
        entry = {}  # a student taught by other seeds' ensembles calibrates nothing here
    return Folds(
        corpora.OUT / f"{measure}-{recipe}-{folder}",
        corpora.OUT / "mix" / "manifest.csv",
        f"python benchmarks/corpora.py {command}",
        entry.get("calibration"),
    )


def recipe_overrides(recipe: str, measure: str = "loco") -> list[str]:
    """The `--set KEY=VALUE` settings that make the defaults into ``recipe`` (those its
    leave-one-corpus-out result, or with ``measure="folds"`` its speaker-folds result,
    recorded; tests check the recipe file equals them)."""
    import re

    saved = json.loads((ROOT / "benchmarks" / "results" / f"{measure}-{recipe}.json").read_text())
    return re.findall(r"--set (\S+)", saved["command"])


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
        help="Keep member runs already finished in --work (trained by this script) instead of "
        "retraining, and continue those a killed rebuild left (ser train --resume).",
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
        resume = args.reuse_runs and (run / "last.json").exists()
        if resume and finished(run):
            print(f"{run.name}: reused")
            continue
        if not resume:
            shutil.rmtree(run, ignore_errors=True)
        start = time.perf_counter()
        cmd = [SER, "train", "--config", str(recipe_file(member.recipe))]
        cmd += ["--data", str(work / "manifest-all.csv"), "--out", str(run)]
        cmd += ["--seed", str(member.seed)] + (["--resume"] if resume else [])
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
    student = read_student()
    if student is not None:  # one network trained on the members' probabilities
        run = train_student(work, bundle[0].recipe, student, run, args.reuse_runs)
    calibrate(run, calibration_folds(bundle, student))
    # the export `--model default` runs on the CPU (no torch import), calibration included
    onnx = work / BUNDLED_ONNX
    onnx.unlink(missing_ok=True)
    subprocess.run([SER, "export", str(run), "--out", str(onnx)], check=True)
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in ("best.safetensors", "best.json", "config.yaml"):
        shutil.copy2(run / name, TARGET / name)
    shutil.copy2(onnx, TARGET / BUNDLED_ONNX)
    write_card()
    print(f"bundled model written to {TARGET}")


def train_student(work: Path, recipe: str, seed: int, teacher: Path, reuse: bool = False) -> Path:
    """The bundle's one network: the recipe trained on every clip with ``teacher`` (the
    members, or their ensemble) as ``train.teacher``, as `corpora.py folds-distil` measured it.
    With ``reuse`` (``--reuse-runs``) a finished student is kept and a killed one continued."""
    run = work / f"student-seed{seed}"
    resume = reuse and (run / "last.json").exists()
    if resume and finished(run):
        print(f"{run.name}: reused")
        return run
    if not resume:
        shutil.rmtree(run, ignore_errors=True)
    start = time.perf_counter()
    cmd = [SER, "train", "--config", str(recipe_file(recipe)), "--seed", str(seed)]
    cmd += ["--data", str(work / "manifest-all.csv"), "--out", str(run)]
    cmd += ["--set", f"train.teacher={teacher}"] + (["--resume"] if resume else [])
    subprocess.run(cmd, check=True)
    print(f"{run.name} trained in {(time.perf_counter() - start) / 60:.1f} min")
    return run


def calibrate(run: Path, folds: Folds) -> None:
    """Fit the bundled model's temperature on the out-of-fold predictions of ``folds`` (or take
    the one their result file recorded)."""
    from benchmarks.corpora import oof_calibration
    from ser_cli.atomic import write_json
    from ser_cli.data.manifest import read_manifest
    from ser_cli.models.checkpoint import read_sidecar

    fitted = folds.recorded
    if fitted is None:
        if not any(folds.folder.glob("fold*")):
            raise SystemExit(
                f"{folds.folder}: no fold models to calibrate on; run `{folds.command}`"
            )
        fitted = oof_calibration(folds.folder, read_manifest(folds.manifest))
    meta = read_sidecar(run, "best")
    meta["calibration"] = {
        "temperature": fitted["temperature"],
        "fitted_on": f"out-of-fold predictions of the recipe's 5-fold CV (`{folds.command}`)",
        "clips": fitted["clips"],
        "val_ece_before": fitted["val_ece_before"],
        "val_ece_after": fitted["val_ece_after"],
    }
    write_json(run / "best.json", meta)
    print(
        f"temperature {fitted['temperature']:.3f} (out-of-fold ECE {fitted['val_ece_before']:.3f} -> {fitted['val_ece_after']:.3f})"
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


def _recipe_accuracy(recipe: str) -> str:
    """The card's accuracy section: the recipe on corpora and on speakers it never heard."""
    results = ROOT / "benchmarks" / "results"
    loco_path, folds_path = results / f"loco-{recipe}.json", results / f"folds-{recipe}.json"
    if not loco_path.exists():
        return f"Not measured yet: run `python benchmarks/corpora.py loco --name {recipe}`.\n"
    loco = json.loads(loco_path.read_text())
    four, own = loco["summary"]["four_class_accuracy"], loco["summary"]["accuracy"]

    def ms(pair):
        return f"{pair[0]:.1%} ± {pair[1]:.1%}"

    rows = [
        f"| {name} | {ms(four[key])} | {ms(own[key])} |"
        for key, name in (("ravdess", "RAVDESS (8)"), ("emodb", "EmoDB (6)"), ("ased", "ASED (5)"))
        if key in four
    ]
    text = (
        f"The recipe `{recipe}` with each corpus left out in turn: trained on the other two, "
        "tested on every clip of the one it never heard, without adaptation (mean ± std over "
        f"{loco['summary']['seeds']} seeds; `{loco['command']}`):\n\n"
        "| left-out corpus (own classes) | angry/happy/neutral/sad | own classes |\n"
        "|---|---|---|\n" + "\n".join(rows) + f"\n| mean | {ms(four['mean'])} | "
        f"{ms(own['mean'])} |\n"
    )
    if folds_path.exists():
        folds = json.loads(folds_path.read_text())
        seeds = folds["seeds"]
        names = {"ravdess": "RAVDESS (8 classes)", "emodb": "EmoDB (6)", "ased": "ASED (5)"}
        cells = ", ".join(
            f"{name} {sum(s['corpora'][c] for s in seeds.values()) / len(seeds):.1%}"
            for c, name in names.items()
        )
        text += (
            "\nThe same recipe on speakers it never heard of the corpora it trained on (5 "
            "speaker-disjoint folds of the three corpora, each scored over its own classes, no "
            f"adaptation, {len(seeds)} seed{'s' if len(seeds) > 1 else ''}; `{folds['command']}`): "
            f"{cells}.\n"
        )
    return text


def write_card() -> None:
    """MODEL.md from the sidecar and the recipe's measured leave-one-corpus-out and folds."""
    meta = json.loads((TARGET / "best.json").read_text())
    bundle = read_bundle()
    recipe = bundle[0].recipe
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
    student = read_student()
    if student is not None:
        distill = meta["train_config"].get("distill")
        members = (
            f" One network (seed {student}) distilled from an ensemble of {len(bundle)} such "
            f"models (seeds {', '.join(str(m.seed) for m in bundle)}, the mean of their "
            "probabilities): trained on every clip against the ensemble's probabilities on the "
            f"same augmented batch (`train.teacher`, share {distill}) as well as the labels."
        )
    features = meta["feature_config"]
    voice = features.get("voice", False)
    head = (
        " Beside it a linear voice head reads resemblyzer's 256-value speaker-encoder embedding "
        "of the clip (`features.voice`; the encoder's weights come with the resemblyzer wheel; "
        "docs/corpora.md), and the two heads' log-probabilities are summed."
        if voice
        else ""
    )
    calibration = meta.get("calibration", {})
    # RAVDESS's actors: plain numbers alone, prefixed with their corpus in a mix (ravdess-01)
    speakers = ", ".join(
        s.removeprefix("ravdess-")
        for s in meta.get("train_speakers", [])
        if s.removeprefix("ravdess-").isdigit()
    )
    data, licence = corpus_card(bundle[0].corpora, speakers)
    card = f"""# ser default model

- **Architecture:** `{meta["model"]}` (residual 2-D CNN + attentive statistics pooling), config `{json.dumps(meta["model_config"])}`.{head}{members}
- **Input:** 16 kHz mono audio -> {features["n_mels"]}-band log-mel, 10 ms hop{", plus the clip's voice embedding" if voice else ""} (`{json.dumps(features)}`).
- **Recipe:** `{recipe}` (recipes/{recipe}.yaml, members in recipes/bundle.yaml; docs/corpora.md); training settings `{json.dumps(meta["train_config"])}`.
- **Calibration:** softmax temperature {calibration.get("temperature", 1.0):.3f}, fitted on {calibration.get("fitted_on", "nothing (uncalibrated)")}.
- **Labels:** {", ".join(meta["labels"])}.
- **Training data:** {data}; every clip used for training ({meta["train_config"]["epochs"]} epochs{"; members as listed above" if ensemble or student is not None else ""}). Rebuild with `python benchmarks/train_default_model.py`.
- **Normalisation:** per speaker when the speaker is known (`ser predict --adapt all|folder`, `ser eval`, `ser listen` adapts to the stream); training-set statistics otherwise.

## Accuracy

{_recipe_accuracy(recipe)}
The model in this folder was trained on every clip of its corpora, so no held-out figure exists for it; the numbers above are for the same recipe on corpora and speakers it did not train on.

## Known limits

- Acted speech only: read English sentences (RAVDESS, North American actors), German (EmoDB) and Amharic (ASED), in studios. Expect lower accuracy on spontaneous speech, other languages, accents, children, noise, far-field or telephone audio.
- Calm and surprised are known from RAVDESS alone, disgust from RAVDESS and EmoDB: those labels rest on fewer voices than angry, happy, neutral, sad and fearful.
- Calm and neutral are easily confused, as are fearful/surprised and sad/calm.
- Emotions are acted portrayals, not felt states; a prediction is a probability over eight categories, not a diagnosis.
- Clips of 1-5 s work best; longer recordings are split into utterances at pauses (`ser predict --segment`).
- The figures above score every clip. `ser predict` first checks each file for speech (Silero) and returns `silence`, with no emotion, where it finds none; it does so for a few emotional clips, most of them sad ASED ones (`python benchmarks/vad_misses.py`; the figures with those counted wrong are in docs/corpora.md). `ser predict --no-speech-check` classifies every audible file.

## Licence

The weights are derived from the corpora above and carry their terms.

{licence}
"""
    (TARGET / "MODEL.md").write_text(card)


if __name__ == "__main__":
    main()
