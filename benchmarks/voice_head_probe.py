"""How strong a prior should the voice head have? A probe before any network is trained.

    python benchmarks/voice_head_probe.py [--seeds 0 1 2]
    python benchmarks/voice_head_probe.py --global-norm [--seeds 0 1 2]

The `enhanced` model's voice head (features.voice) is a linear softmax on a clip's 256-value
voice embedding, input dropout one half, trained on its own loss. This trains that head alone,
as the network's training does (AdamW at 3e-3 with 1e-2 weight decay on a one-cycle schedule,
60 epochs of batches of 32, label smoothing 0.05, balanced class weights, each training
speaker's embeddings z-scored by their own statistics), leave one corpus out over RAVDESS
01-20, EmoDB and ASED, 4 classes (angry/happy/neutral/sad), and tests it on the left-out
corpus z-scored with the training clips' statistics, as ``ser predict`` does without
``--adapt``. Each row adds ``model_options.voice_l2`` x the squared weights to the loss. The
embeddings are those of ``benchmarks/prosody_probe.py`` (its cache in
bench-out/prosody-probe/features.npz, computed on first use).

``--global-norm`` asks instead whether training the head on what ``ser predict`` gives it helps
it transfer: a share (``train.global_norm_prob``, GLOBAL_SHARES) of each batch's embeddings is
z-scored with the training clips' statistics instead of their speaker's, as the network's
training does for a tenth of its examples, at no prior and at the bundled recipe's
(results/voice-head-probe-global-norm.json).

Results: benchmarks/results/voice-head-probe.json (accuracy per corpus and seed, the heads'
weight norms; beside them the norm of the voice heads of the kept recipe's leave-one-corpus-out
networks where bench-out/corpora holds them).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from corpora import CORPORA, OUT, RESULTS, mix_manifest  # noqa: E402
from prosody_probe import clip_features, zscore_by  # noqa: E402

from ser_cli.atomic import write_json  # noqa: E402
from ser_cli.features.normalization import STD_FLOOR  # noqa: E402
from ser_cli.inference.label_mapping import FOUR_CLASSES  # noqa: E402

STRENGTHS = (0.0, 0.03, 0.1, 0.3, 1.0)  # model_options.voice_l2
GLOBAL_SHARES = (0.0, 0.1, 0.5, 1.0)  # train.global_norm_prob, with --global-norm
GLOBAL_STRENGTHS = (0.0, 0.03)  # no prior, the bundled recipe's
KEPT = "voice-60-epochs+corpus-weights"  # the bundled recipe's loco runs, for their head norms


def train_head(
    x: np.ndarray,
    y: np.ndarray,
    voice_l2: float,
    seed: int,
    classes: int,
    x_global: np.ndarray | None = None,
    global_share: float = 0.0,
):
    """The voice head trained as the network trains it (module docstring). With ``x_global``
    (the same clips z-scored by the training set's statistics) each example of a batch is taken
    from it with probability ``global_share`` instead of from ``x``."""
    import torch

    from ser_cli.models.cnn import voice_head, voice_penalty

    torch.manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    head = voice_head(x.shape[1], classes)  # the model's own, so the probe follows it
    weight = torch.tensor(
        len(y) / (classes * np.bincount(y, minlength=classes)), dtype=torch.float32
    )
    optimizer = torch.optim.AdamW(head.parameters(), lr=3e-3, weight_decay=1e-2)
    xs, ys = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    xg = xs if x_global is None else torch.tensor(x_global, dtype=torch.float32)
    per_epoch = len(ys) // 32
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, 3e-3, total_steps=60 * per_epoch, pct_start=0.1
    )
    head.train()
    for _ in range(60):
        for index in torch.randperm(len(ys), generator=order).split(32)[:per_epoch]:
            batch = xs[index]
            if global_share:
                use = torch.rand(len(index), generator=order) < global_share
                batch = torch.where(use[:, None], xg[index], batch)
            loss = torch.nn.functional.cross_entropy(
                head(batch), ys[index], weight=weight, label_smoothing=0.05
            )
            if voice_l2:
                loss = loss + voice_penalty(head, voice_l2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return head.eval()


def network_head_norms() -> dict[str, float]:
    """Mean row norm of the voice head of each leave-one-corpus-out network of the kept recipe."""
    from ser_cli.models.checkpoint import load_checkpoint

    norms = {}
    for corpus in CORPORA:
        run = OUT / f"loco-{KEPT}-s0" / f"without-{corpus}"
        if run.is_dir():
            weight = load_checkpoint(run).model.voice[1].weight.detach().numpy()
            norms[corpus] = float(np.linalg.norm(weight, axis=1).mean())
    return norms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument(
        "--global-norm",
        action="store_true",
        help="sweep the share of training embeddings z-scored globally (GLOBAL_SHARES)",
    )
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    started = time.time()
    with mix_manifest().open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["label"] in FOUR_CLASSES]
    x = clip_features(
        [r["path"] for r in rows], ROOT / "bench-out" / "prosody-probe" / "features.npz"
    )["voice"]
    classes = sorted(FOUR_CLASSES)
    y = np.array([classes.index(r["label"]) for r in rows])
    corpus = np.array([r["corpus"] for r in rows])
    speaker = np.array([r["speaker"] for r in rows])
    if args.global_norm:  # (voice_l2, share of globally z-scored training embeddings)
        settings = [(l2, share) for l2 in GLOBAL_STRENGTHS for share in GLOBAL_SHARES]
    else:
        settings = [(l2, 0.0) for l2 in STRENGTHS]
    results: dict = {}
    for voice_l2, share in settings:
        entry: dict = {"accuracy": {c: [] for c in CORPORA}, "weight_norm": []}
        for seed in args.seeds:
            for held in CORPORA:
                train, test = corpus != held, corpus == held
                mean, std = x[train].mean(0), np.maximum(x[train].std(0), STD_FLOOR)
                head = train_head(
                    zscore_by(x[train], speaker[train]),
                    y[train],
                    voice_l2,
                    seed,
                    4,
                    x_global=(x[train] - mean) / std,
                    global_share=share,
                )
                with torch.no_grad():
                    logits = head(torch.tensor((x[test] - mean) / std, dtype=torch.float32))
                entry["accuracy"][held].append(float((logits.argmax(1).numpy() == y[test]).mean()))
                norm = np.linalg.norm(head[1].weight.detach().numpy(), axis=1).mean()
                entry["weight_norm"].append(float(norm))
        entry["mean"] = float(np.mean([np.mean(v) for v in entry["accuracy"].values()]))
        key = f"{voice_l2:g}" if not args.global_norm else f"{voice_l2:g} {share:g}"
        results[key] = entry
        print(
            key,
            {c: round(100 * np.mean(v), 1) for c, v in entry["accuracy"].items()},
            round(100 * entry["mean"], 1),
            round(np.mean(entry["weight_norm"]), 2),
            flush=True,
        )
    out = {
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "command": "python benchmarks/voice_head_probe.py "
        + ("--global-norm " if args.global_norm else "")
        + "--seeds "
        + " ".join(map(str, args.seeds)),
        "minutes": round((time.time() - started) / 60, 1),
        "clips": len(rows),
        "seeds": args.seeds,
    }
    if args.global_norm:  # keys "VOICE_L2 SHARE"
        out["voice_l2_and_global_share"] = results
        name = "voice-head-probe-global-norm.json"
    else:
        out["voice_l2"] = results
        out["network_head_norms"] = network_head_norms()
        name = "voice-head-probe.json"
    write_json(RESULTS / name, out)


if __name__ == "__main__":
    main()
