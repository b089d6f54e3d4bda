"""Screen: does averaging over crops at test time help the recipe's fold models?

    python benchmarks/crop_averaging.py RECIPE [--seeds 0 1 2]
    python benchmarks/crop_averaging.py --loco NAME [--seeds 0 1 2]

The models train on 2 s crops (``train.crop_frames``) and are tested on whole clips. For each
seed's 5 fold models of ``benchmarks/recipes.py RECIPE`` this scores the fold's unseen actors
without adaptation three ways: the whole clip (what ``ser predict`` does), the mean
probability of 2 s crops every 0.5 s, and the mean of the two. No training: it reads the run
folders recipes.py left in bench-out/recipes/. (EmoDB's clips are 2 s: one crop, nothing to
average.) Results: benchmarks/results/crop-averaging-RECIPE.json.

``--loco NAME`` asks the same of another corpus: the leave-one-corpus-out models of ``python
benchmarks/corpora.py loco --name NAME`` on the corpus each never heard, scored as `ser eval`
scores another corpus (own classes and the angry/happy/neutral/sad view), with one more
average: the clip's log-mel stretched in time to 0.9, 1 and 1.1 of its length (tempo changes
like the speed augmentation the recipes train with, pitch kept). Results:
benchmarks/results/crop-averaging-loco-NAME.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from ser_cli.atomic import write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CROP, STEP = 200, 50  # frames: 2 s crops every 0.5 s


STRETCHES = (0.9, 1.0, 1.1)  # time-stretch factors averaged by --loco


def _probabilities(ckpt, clips, *, stretch: bool = False) -> dict[str, np.ndarray]:
    """Probabilities of each clip scored whole, as the mean of its crops, as the mean of both
    and (``stretch``) as the mean over STRETCHES of its time-stretched features."""
    from scipy.ndimage import zoom

    from ser_cli.features.clips import clip_stats
    from ser_cli.inference.batch import probabilities

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
    out = {"whole": whole, "crops": averaged, "both": (whole + averaged) / 2}
    if stretch:
        out["stretch"] = np.mean(
            [
                probabilities(
                    ckpt.model,
                    [zoom(f, (r, 1), order=1) for f in clips.features],
                    stats,
                    max_frames=max_frames,
                )
                for r in STRETCHES
            ],
            axis=0,
        )
    return out


def score_fold(fold_dir: Path, rows: list[dict]) -> dict[str, float]:
    from ser_cli.features.clips import load_clips
    from ser_cli.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(fold_dir)
    test = [r for r in rows if r["fold"] == fold_dir.name.removeprefix("fold")]
    clips = load_clips(test, ckpt.feature_config, ckpt.labels)
    y = np.asarray(clips.labels)
    return {
        name: float((p.argmax(1) == y).mean()) for name, p in _probabilities(ckpt, clips).items()
    }


def loco(name: str, seeds: list[int]) -> None:
    """Each left-out corpus scored whole and with each test-time average (see the module)."""
    from corpora import CORPORA, FOUR, left_out

    from ser_cli.inference.evaluate import score_probabilities

    per_seed: dict = {}
    for seed in seeds:
        entry: dict = {}
        for corpus, ckpt, clips, labels in left_out(name, seed):
            entry[corpus] = {}
            for how, p in _probabilities(ckpt, clips, stretch=True).items():
                m = score_probabilities(p, np.asarray(clips.labels), ckpt.labels, labels)
                entry[corpus][how] = {"accuracy": m["accuracy"], FOUR: m["four_class"]["accuracy"]}
        hows = entry[corpus]
        entry["mean"] = {
            how: {k: float(np.mean([entry[c][how][k] for c in CORPORA])) for k in hows[how]}
            for how in hows
        }
        per_seed[str(seed)] = entry
        print(json.dumps({seed: entry["mean"]}), flush=True)
    _write(
        f"loco-{name}",
        f"--loco {name} --seeds {' '.join(map(str, seeds))}",
        per_seed,
        stretches=STRETCHES,
    )


def _write(name: str, args: str, per_seed: dict, **more) -> None:
    """results/crop-averaging-NAME.json: the command, the crops and each seed's scores."""
    result = {
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "command": f"python benchmarks/crop_averaging.py {args}",
        "crop_frames": CROP,
        "step_frames": STEP,
        "seeds": per_seed,
        **more,
    }
    path = ROOT / "benchmarks" / "results" / f"crop-averaging-{name}.json"
    write_json(path, result)


def main(argv: list[str]) -> None:
    from benchmarks.recipes import OUT
    from benchmarks.run import manifest_dir
    from ser_cli.data.manifest import read_manifest

    name, seeds = argv[0], [0, 1, 2]
    if "--seeds" in argv:
        seeds = [int(s) for s in argv[argv.index("--seeds") + 1 :]]
    if name == "--loco":
        loco(argv[1], seeds)
        return
    rows = read_manifest(manifest_dir())
    per_seed = {}
    for seed in seeds:
        found = sorted((OUT / name / f"seed{seed}").glob("fold*"))
        if not found:
            raise SystemExit(
                f"no fold models in {OUT / name / f'seed{seed}'}; train them first: "
                f"python benchmarks/recipes.py {name}"
            )
        folds = [score_fold(d, rows) for d in found]
        per_seed[str(seed)] = {k: float(np.mean([f[k] for f in folds])) for k in folds[0]}
    summary = {
        k: [
            float(np.mean([s[k] for s in per_seed.values()])),
            float(np.std([s[k] for s in per_seed.values()])),
        ]
        for k in ("whole", "crops", "both")
    }
    _write(name, " ".join(argv), per_seed, mean_std_over_seeds=summary)
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
