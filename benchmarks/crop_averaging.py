"""Screen: does averaging over crops at test time help the recipe's fold models?

    python benchmarks/crop_averaging.py RECIPE [--seeds 0 1 2]

The models train on 2 s crops (``train.crop_frames``) and are tested on whole clips. For each
seed's 5 fold models of ``benchmarks/recipes.py RECIPE`` this scores the fold's unseen actors
without adaptation three ways: the whole clip (what ``ser predict`` does), the mean
probability of 2 s crops every 0.5 s, and the mean of the two. No training: it reads the run
folders recipes.py left in bench-out/recipes/. (EmoDB's clips are 2 s: one crop, nothing to
average.) Results: benchmarks/results/crop-averaging-RECIPE.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
CROP, STEP = 200, 50  # frames: 2 s crops every 0.5 s


def score_fold(fold_dir: Path, rows: list[dict]) -> dict[str, float]:
    from ser_cli.features.clips import clip_stats, load_clips
    from ser_cli.inference.batch import probabilities
    from ser_cli.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(fold_dir)
    test = [r for r in rows if r["fold"] == fold_dir.name.removeprefix("fold")]
    clips = load_clips(test, ckpt.feature_config, ckpt.labels)
    stats = clip_stats(clips, ckpt.normalization, ckpt.global_stats, adapt=False)
    max_frames = ckpt.meta["train_config"]["max_eval_frames"]
    whole = probabilities(ckpt.model, clips.features, stats, max_frames=max_frames)
    crops, owner = [], []
    for i, f in enumerate(clips.features):
        starts = range(0, len(f) - CROP + 1, STEP) if len(f) > CROP else [0]
        crops += [f[s : s + CROP] for s in starts]
        owner += [i] * len(starts)
    owner = np.asarray(owner)
    probs = probabilities(ckpt.model, crops, [stats[i] for i in owner], max_frames=max_frames)
    averaged = np.stack([probs[owner == i].mean(0) for i in range(len(clips.features))])
    y = np.asarray(clips.labels)
    return {
        name: float((p.argmax(1) == y).mean())
        for name, p in (("whole", whole), ("crops", averaged), ("both", (whole + averaged) / 2))
    }


def main(argv: list[str]) -> None:
    from benchmarks.recipes import OUT
    from benchmarks.run import manifest_dir
    from ser_cli.data.manifest import read_manifest

    name, seeds = argv[0], [0, 1, 2]
    if "--seeds" in argv:
        seeds = [int(s) for s in argv[argv.index("--seeds") + 1 :]]
    rows = read_manifest(manifest_dir())
    per_seed = {}
    for seed in seeds:
        folds = [score_fold(d, rows) for d in sorted((OUT / name / f"seed{seed}").glob("fold*"))]
        per_seed[str(seed)] = {k: float(np.mean([f[k] for f in folds])) for k in folds[0]}
    summary = {
        k: [
            float(np.mean([s[k] for s in per_seed.values()])),
            float(np.std([s[k] for s in per_seed.values()])),
        ]
        for k in ("whole", "crops", "both")
    }
    result = {
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "command": f"python benchmarks/crop_averaging.py {' '.join(argv)}",
        "crop_frames": CROP,
        "step_frames": STEP,
        "seeds": per_seed,
        "mean_std_over_seeds": summary,
    }
    path = ROOT / "benchmarks" / "results" / f"crop-averaging-{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
