"""How often `ser predict`'s speech check calls a clip of the shared corpora silence.

    python benchmarks/vad_misses.py
    python benchmarks/vad_misses.py --loco NAME [--seeds 0 1 2]

Every file `ser predict` classifies is first checked for speech (Silero, the bundled model's
detector; a stretch of MIN_SPEECH above SPEECH_THRESHOLD, ``ser_cli.audio.vad``). A clip with
none is a ``silence`` result, not an emotion. This runs that check on every clip of the mix
manifest (RAVDESS 01-20, EmoDB, ASED; ``python benchmarks/corpora.py`` prepares it) and counts
the clips called silence per corpus and label (results/vad-misses.json, with their files).

``--loco NAME`` then scores each left-out corpus as `ser predict` would give it to a user: the
leave-one-corpus-out models of ``python benchmarks/corpora.py loco --name NAME`` (no
adaptation) on every clip of the corpus they never heard, once as `ser eval` scores them (every
clip classified) and once with the clips the speech check calls silence counted as wrong (a
user gets no emotion for them): results/vad-misses-loco-NAME.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


CORPORA = ("ravdess", "emodb", "ased")


def _mean(by_corpus: dict) -> dict:
    """Both accuracies averaged over the three corpora."""
    from corpora import FOUR

    return {
        key: sum(by_corpus[c][key] for c in CORPORA) / len(CORPORA) for key in ("accuracy", FOUR)
    }


def loco(name: str, seeds: list[int]) -> None:
    """Leave-one-corpus-out accuracy with and without the speech check's silence results."""
    import numpy as np
    from corpora import FOUR, OUT, RESULTS, mix_manifest

    from ser_cli.data.manifest import read_manifest
    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.inference.label_mapping import FOUR_CLASSES, four_class_mapping, map_labels
    from ser_cli.models.checkpoint import load_checkpoint

    silenced = set(json.loads((RESULTS / "vad-misses.json").read_text())["files"])
    rows = read_manifest(mix_manifest())
    out: dict = {"name": name, "seeds": {}}
    for seed in seeds:
        entry = {}
        for corpus in CORPORA:
            ckpt = load_checkpoint(OUT / f"loco-{name}-s{seed}" / f"without-{corpus}")
            test = [r for r in rows if r["corpus"] == corpus]
            own = sorted({r["label"] for r in test})
            report = evaluate_rows(ckpt, test, adapt=False, per_file=True, corpus_labels=own)
            # Scored as `ser eval` scores another corpus (evaluate.score_probabilities): over
            # the corpus's own labels (calm as neutral where it has none), and the 4-class view.
            preds = report["predictions"]
            probs = np.array([[p["probabilities"][k] for k in ckpt.labels] for p in preds])
            truth = [p["label"] for p in preds]
            heard = np.array([p["path"] not in silenced for p in preds])
            mapping = map_labels(ckpt.labels, own)
            right = mapping.apply(probs).argmax(1) == np.asarray(mapping.targets(truth))
            four = four_class_mapping(ckpt.labels)
            keep = np.array([label in FOUR_CLASSES for label in truth])
            right4 = four.apply(probs[keep]).argmax(1) == np.asarray(
                four.targets([t for t, k in zip(truth, keep, strict=True) if k])
            )
            # The recount of every clip is the report's own figure (a check of this script).
            assert abs(right.mean() - report["accuracy"]) < 1e-9
            assert abs(right4.mean() - report["four_class"]["accuracy"]) < 1e-9
            entry[corpus] = {
                "accuracy": float(right.mean()),
                FOUR: float(right4.mean()),
                "with_speech_check": {
                    "accuracy": float((right & heard).mean()),
                    FOUR: float((right4 & heard[keep]).mean()),
                    "called_silence": int((~heard).sum()),
                    "called_silence_4_class": int((~heard[keep]).sum()),
                },
            }
        entry["mean"] = _mean(entry)
        entry["mean"]["with_speech_check"] = _mean(
            {c: entry[c]["with_speech_check"] for c in CORPORA}
        )
        out["seeds"][str(seed)] = entry
        print(json.dumps({seed: entry}, indent=1), flush=True)
    out["measured"] = time.strftime("%Y-%m-%d %H:%M")
    (RESULTS / f"vad-misses-loco-{name}.json").write_text(json.dumps(out, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loco", metavar="NAME", help="score these leave-one-corpus-out runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    if args.loco:
        loco(args.loco, args.seeds)
        return
    misses()


def misses() -> None:
    from corpora import RESULTS, mix_manifest
    from rich.progress import track

    from ser_cli.audio.io import load_audio
    from ser_cli.data.manifest import read_manifest
    from ser_cli.inference.load import load_predictor

    vad = load_predictor("default").vad
    rows = read_manifest(mix_manifest())
    clips, missed, files = Counter(), Counter(), []
    started = time.perf_counter()
    for row in track(rows, description="speech check"):
        clips[row["corpus"]] += 1
        if not vad.has_speech(load_audio(row["path"], check_silence=False)):
            missed[(row["corpus"], row["label"])] += 1
            files.append(row["path"])
    out = {
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "seconds": round(time.perf_counter() - started, 1),
        "clips": dict(clips),
        "called_silence": {
            corpus: {
                "clips": sum(n for (c, _), n in missed.items() if c == corpus),
                "by_label": {lab: n for (c, lab), n in sorted(missed.items()) if c == corpus},
            }
            for corpus in clips
        },
        "files": files,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "vad-misses.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "files"}, indent=2))


if __name__ == "__main__":
    main()
