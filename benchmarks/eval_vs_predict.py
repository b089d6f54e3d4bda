"""`ser eval` and `ser predict` agree: the bundled model on 240 RAVDESS clips (4 actors).

    python benchmarks/eval_vs_predict.py [--actors 17 18 19 20]

Scores the clips with eval's path (manifest rows, feature cache, sorted padded batches) and
with predict's (files, in input order, in its own batches), without and with speaker
adaptation (predict: ``--adapt folder``, one folder per actor), and reports both accuracies,
how many per-file labels differ, how many clips predict's speech check calls silence (eval
classifies every clip of a manifest) and the largest probability difference over the rest.
The bundled model was trained on all 20 shared actors, so the accuracies are not held-out
figures: the point is that the two paths give the same numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ser_cli.atomic import write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ravdess-speech-16k"
RESULTS = ROOT / "benchmarks" / "results"


def rows_for(actors: list[str]) -> list[dict]:
    from ser_cli.data.corpora.ravdess import parse_file

    rows = []
    for actor in actors:
        folder = DATA / f"Actor_{actor}"
        for path in sorted(folder.glob("*.flac")):
            clip = parse_file(path, DATA)
            rows.append({"path": str(path), "label": clip.label, "speaker": clip.speaker})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actors", nargs="+", default=["17", "18", "19", "20"])
    parser.add_argument("--model", default="default")
    args = parser.parse_args()

    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.inference.load import load_predictor, resolve_model_dir
    from ser_cli.inference.predictor import predict_files
    from ser_cli.models.checkpoint import load_checkpoint

    rows = rows_for(args.actors)
    ckpt = load_checkpoint(resolve_model_dir(args.model))
    predictor = load_predictor(args.model)
    paths = [Path(r["path"]) for r in rows]
    truth = [r["label"] for r in rows]
    out = {"model": args.model, "actors": args.actors, "clips": len(rows)}
    with tempfile.TemporaryDirectory() as cache:
        for adapt, mode in ((False, "none"), (True, "folder")):
            started = time.perf_counter()
            report = evaluate_rows(ckpt, rows, adapt=adapt, per_file=True, cache_root=cache)
            eval_s = time.perf_counter() - started
            started = time.perf_counter()
            results = predict_files(predictor, paths, adapt=mode)
            predict_s = time.perf_counter() - started
            eval_probs = np.array(
                [list(p["probabilities"].values()) for p in report["predictions"]]
            )
            # predict checks each file for speech first (Silero): a clip with no stretch of
            # speech is a "silence" result without probabilities, which eval never gives.
            heard = [r.probabilities is not None for r in results]
            predict_probs = np.array(
                [list(r.probabilities.values()) for r in results if r.probabilities]
            )
            eval_probs = eval_probs[heard]
            labels = [r.label for r in results]
            out["adapted" if adapt else "no_adapt"] = {
                "eval_accuracy": report["accuracy"],
                "predict_accuracy": float(
                    np.mean([a == b for a, b in zip(labels, truth, strict=True)])
                ),
                "labels_differing": sum(
                    p["predicted"] != label
                    for p, label in zip(report["predictions"], labels, strict=True)
                ),
                "called_silence": len(heard) - sum(heard),
                "silence_files": [str(p.name) for p, h in zip(paths, heard, strict=True) if not h],
                # over the clips both paths classified
                "max_abs_probability_difference": float(np.abs(eval_probs - predict_probs).max()),
                "eval_seconds": round(eval_s, 1),
                "predict_seconds": round(predict_s, 1),
                "commands": (
                    f"ser eval --{'' if adapt else 'no-'}adapt, ser predict --adapt {mode}"
                ),
            }
    out["measured"] = time.strftime("%Y-%m-%d %H:%M")
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "eval-vs-predict.json", out)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
