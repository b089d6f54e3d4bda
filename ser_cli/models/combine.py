"""`ser ensemble`: several trained runs on one training set, written as one checkpoint folder.

See :mod:`ser_cli.models.ensemble` for what the folder holds and how it predicts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_cli.errors import ModelError
from ser_cli.models.checkpoint import load_checkpoint, save_checkpoint
from ser_cli.models.ensemble import Ensemble

# What every member must share, as sidecar keys (train_config keys: what inference reads).
SHARED = ("feature_config", "labels")
SHARED_TRAIN = ("normalization", "max_eval_frames")
# Per-run facts that do not describe the ensemble.
DROPPED = (
    "calibration",
    "metrics",
    "epoch",
    "best_uar",
    "stale",
    "format",
    "format_version",
    "ser_version",
)


def combine_runs(runs: list[str | Path], out: str | Path, tag: str = "best") -> Path:
    """Write the ensemble of ``runs``' ``tag`` checkpoints to ``out`` (as its ``best``).

    Refuses, in one line and before writing anything, fewer than two runs, a run that is
    itself an ensemble, runs whose inputs differ (features, labels, normalisation, training-set
    statistics), and an ``out`` that already holds a model or is one of the runs (see
    :mod:`ser_cli.outputs`). Runs named twice (``runA`` and ``x/../runA``) count once.
    """
    from ser_cli.outputs import Output, check_outputs, run_lock

    runs = list({Path(r).resolve(): Path(r) for r in runs}.values())  # each run once
    if len(runs) < 2:
        raise ModelError(
            "an ensemble needs two or more run folders (each counted once); give more runs."
        )
    missing = [str(r) for r in runs if not r.is_dir()]
    if missing:
        raise ModelError(
            f"{', '.join(missing)}: run folder not found; give `ser train` run folders."
        )
    (out,) = check_outputs([Output(Path(out), "--out", folder=True, model=True)], runs)
    ckpts = [load_checkpoint(r, tag) for r in runs]
    first = ckpts[0]
    for ckpt in ckpts:
        if "ensemble" in ckpt.meta:
            raise ModelError(
                f"{ckpt.path}: is already an ensemble; combine the original run folders instead."
            )
    for ckpt in ckpts[1:]:
        differs = [k for k in SHARED if ckpt.meta[k] != first.meta[k]]
        differs += [
            f"train_config.{k}"
            for k in SHARED_TRAIN
            if ckpt.meta["train_config"].get(k) != first.meta["train_config"].get(k)
        ]
        if not differs and not _same_stats(ckpt.global_stats, first.global_stats):
            differs.append("its training-set feature statistics (trained on other data)")
        if differs:
            raise ModelError(
                f"{ckpt.path}: differs from {first.path} in {', '.join(differs)}; an ensemble "
                "combines runs on one training set with one feature setting (e.g. other "
                "--set train.seed=S)."
            )
    meta = {k: v for k, v in first.meta.items() if k not in DROPPED}
    meta["train_speakers"] = sorted({s for c in ckpts for s in c.meta.get("train_speakers", [])})
    meta["ensemble"] = {
        "members": len(ckpts),
        "runs": [str(r) for r in runs],  # as given: a bundled model keeps no build paths
        "seeds": [c.meta["train_config"].get("seed") for c in ckpts],
        "epochs": [c.meta["train_config"].get("epochs") for c in ckpts],  # schedules may differ
        "models": [
            {"model": c.meta["model"], "model_config": c.meta["model_config"]} for c in ckpts
        ],
    }
    model = Ensemble([c.model for c in ckpts])
    with run_lock(out):
        # still free now that we hold it
        check_outputs([Output(out, "--out", folder=True, model=True)])
        save_checkpoint(out, "best", model, meta, first.global_stats)
    return out


def _same_stats(a, b) -> bool:
    if np.shape(a.mean) != np.shape(b.mean) or np.shape(a.std) != np.shape(b.std):
        return False
    return bool(np.allclose(a.mean, b.mean, atol=1e-5) and np.allclose(a.std, b.std, atol=1e-5))
