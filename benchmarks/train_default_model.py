"""Reproduce the bundled default model: the default `enhanced` recipe on all 20 shared actors.

    python benchmarks/train_default_model.py [--data ../shared/data/ravdess-speech-16k]

It prepares the corpus with `ser prepare`, marks every clip as training data (the model's
speaker-independent accuracy is measured separately by `ser train --cv 5`, see README), trains
with `ser train --model enhanced`, and copies the best checkpoint and MODEL.md into
ser_cli/assets/default_model/.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SER = str(Path(sys.executable).with_name("ser"))
TARGET = ROOT / "ser_cli" / "assets" / "default_model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=str(ROOT.parent / "shared" / "data" / "ravdess-speech-16k")
    )
    parser.add_argument("--work", default=str(ROOT / "bench-out" / "default-model"))
    parser.add_argument(
        "--card-only", action="store_true", help="Only rewrite MODEL.md from the measured results."
    )
    args = parser.parse_args()
    if args.card_only:
        write_card()
        return
    work = Path(args.work)
    subprocess.run([SER, "prepare", args.data, "--out", str(work / "prepared")], check=True)
    with open(work / "prepared" / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["split"] = "train"
    with open(work / "manifest-all.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    run = work / "run"
    shutil.rmtree(run, ignore_errors=True)
    subprocess.run(
        [
            SER,
            "train",
            "--model",
            "enhanced",
            "--data",
            str(work / "manifest-all.csv"),
            "--out",
            str(run),
        ],
        check=True,
    )
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in ("best.safetensors", "best.json", "config.yaml"):
        shutil.copy2(run / name, TARGET / name)
    write_card()
    print(f"bundled model written to {TARGET}")


def write_card() -> None:
    """MODEL.md from the sidecar and the measured cross-validation of the same recipe."""
    meta = json.loads((TARGET / "best.json").read_text())
    cv_path = ROOT / "benchmarks" / "results" / "cv-enhanced.json"
    if cv_path.exists():
        cv = json.loads(cv_path.read_text())
        from ser_cli.training.crossval import mean_std

        ms = partial(mean_std, cv["summary"])

        accuracy = (
            f"Speaker-independent 5-fold cross-validation of this exact recipe on the same 20 actors "
            f"(`{cv['command']}`, 4 unseen actors per fold, measured {cv['measured']}):\n\n"
            f"| | weighted accuracy | UAR | macro-F1 |\n|---|---|---|---|\n"
            f"| speaker-adapted (test speaker's own unlabelled clips) | {ms('metrics.accuracy')} | {ms('metrics.uar')} | {ms('metrics.macro_f1')} |\n"
            f"| no adaptation (training statistics) | {ms('metrics_no_adapt.accuracy')} | {ms('metrics_no_adapt.uar')} | {ms('metrics_no_adapt.macro_f1')} |\n"
        )
    else:
        accuracy = "Not measured yet: run `python benchmarks/run.py cv enhanced`."
    speakers = ", ".join(meta.get("train_speakers", []))
    card = f"""# ser default model

- **Architecture:** `{meta["model"]}` (residual 2-D CNN + attentive statistics pooling), config `{json.dumps(meta["model_config"])}`.
- **Input:** 16 kHz mono audio -> 64-band log-mel, 10 ms hop (`{json.dumps(meta["feature_config"])}`).
- **Labels:** {", ".join(meta["labels"])}.
- **Training data:** RAVDESS speech, audio-only, actors {speakers} (1,200 clips, 16 kHz), every clip used for training; the default `ser train` recipe ({meta["train_config"]["epochs"]} epochs). Rebuild with `python benchmarks/train_default_model.py`.
- **Normalisation:** per speaker when the speaker is known (`ser predict --adapt all|folder`, `ser eval`, `ser listen` adapts to the stream); training-set statistics otherwise.

## Accuracy

{accuracy}
The model in this folder was trained on all 20 actors, so no held-out figure exists for it; the numbers above are for the same recipe on unseen actors.

## Known limits

- Acted, read English sentences by 20 North American actors in a studio: expect lower accuracy on spontaneous speech, other languages, accents, children, noise, far-field or telephone audio.
- Calm and neutral are easily confused, as are fearful/surprised and sad/calm.
- Emotions are acted portrayals, not felt states; a prediction is a probability over eight categories, not a diagnosis.
- Clips of 1-5 s work best; longer recordings are windowed (`ser predict --window`).

## Licence

The weights are derived from RAVDESS, released under Creative Commons Attribution-NonCommercial-ShareAlike 4.0 (CC BY-NC-SA 4.0): use them non-commercially and share derivatives alike. Cite: Livingstone SR, Russo FA (2018) The Ryerson Audio-Visual Database of Emotional Speech and Song (RAVDESS). PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391.
"""
    (TARGET / "MODEL.md").write_text(card)


if __name__ == "__main__":
    main()
