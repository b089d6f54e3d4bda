"""The trainer: one loop for every registered model, reading top to bottom.

``train_run`` takes manifest rows and a RunConfig, trains on the ``train`` split, selects on
the ``val`` split's unweighted average recall (UAR) when there is one, and leaves a run folder
with ``best``/``last`` checkpoints, ``config.yaml`` and ``history.jsonl``. Interrupting it
(Ctrl-C) keeps ``last`` as saved at the end of the last complete epoch (never half-trained
weights); ``resume=True`` continues from there exactly, and refuses a changed recipe.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ser_cli.atomic import atomic_path, remove_stale_temps, write_text
from ser_cli.config import RunConfig, load_run_config, read_config_file, save_run_config
from ser_cli.errors import ConfigError, ManifestError, ModelError, SerError
from ser_cli.features.clips import clip_stats, load_clips, train_batch
from ser_cli.features.normalization import frame_stats
from ser_cli.inference.batch import iter_batches, probabilities
from ser_cli.labels import EMOTIONS
from ser_cli.models.checkpoint import read_sidecar, restore_optimizer, save_checkpoint
from ser_cli.outputs import Output, check_outputs
from ser_cli.progress import Progress
from ser_cli.training import distributed
from ser_cli.training.augment import mixup

HISTORY_NAME = "history.jsonl"
CONFIG_NAME = "config.yaml"
# Settings a resumed run may change: they pick the hardware or lengthen/shorten the schedule,
# not what is trained. Any other difference from the run's config.yaml refuses --resume.
RESUME_SAFE = ("train.epochs", "train.patience", "train.device", "train.amp", "train.num_threads")


class TrainingInterrupted(SerError):
    """Training was stopped by the user; ``last`` was saved."""

    exit_code = 130


@dataclass
class TrainResult:
    run_dir: Path
    best_metrics: dict  # validation metrics of the best epoch ({} without a val split)
    epochs_run: int
    seconds: float
    history: list[dict] = field(default_factory=list)


def default_threads() -> int:
    """The CPUs this process may run on: torch's own default, before anything changed it."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def resolve_device(name: str) -> str:
    """'auto' -> cuda, mps or cpu, whichever is there; a named device must exist."""
    import torch

    from ser_cli.errors import DeviceError

    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if name == "cuda" and not cuda:
        raise DeviceError(
            "--device cuda: no CUDA GPU is visible to torch; use --device cpu or auto."
        )
    if name == "mps" and not mps:
        raise DeviceError(
            "--device mps: Apple MPS is not available here; use --device cpu or auto."
        )
    if name not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"unknown device '{name}'; choose auto, cpu, cuda or mps.")
    return name


def labels_for(rows: list[dict]) -> tuple[str, ...]:
    """The canonical labels present in the data, in canonical order.

    Labels outside the 8 emotions are refused, listed (the rule ``ser prepare`` applies):
    read_manifest maps spellings such as 'Angry ' onto the canonical names first.
    """
    present = {r["label"] for r in rows}
    foreign = sorted(label for label in present if label not in EMOTIONS)
    if foreign:
        raise ManifestError(
            f"label(s) {', '.join(repr(f) for f in foreign)} are not among the 8 emotions "
            f"({', '.join(EMOTIONS)}); fix the manifest or rerun `ser prepare`."
        )
    return tuple(label for label in EMOTIONS if label in present)


def corpus_ids(rows: list[dict]) -> np.ndarray:
    """(clips,) int: which corpus each row comes from (its ``corpus`` column; "" if none)."""
    names = sorted({r.get("corpus") or "" for r in rows})
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[r.get("corpus") or ""] for r in rows], dtype=np.int64)


def allowed_labels(rows: list[dict], labels: tuple[str, ...]) -> np.ndarray | None:
    """(clips, classes) bool: the labels each row's corpus annotates in ``rows``.

    None when every corpus annotates every label (one corpus, or corpora sharing one label
    set): then the loss is the plain cross-entropy, bit for bit as before corpora were mixed.
    """
    by_corpus: dict[str, set[str]] = {}
    for row in rows:
        by_corpus.setdefault(row.get("corpus") or "", set()).add(row["label"])
    if all(len(present) == len(labels) for present in by_corpus.values()):
        return None
    table = {
        corpus: np.array([label in present for label in labels])
        for corpus, present in by_corpus.items()
    }
    return np.stack([table[row.get("corpus") or ""] for row in rows])


def epoch_order(rng: np.random.Generator, corpora: np.ndarray, balance: bool) -> np.ndarray:
    """One epoch's clip order, as many clips as there are.

    With ``balance`` and several corpora each corpus fills an equal share of the epoch: a
    small corpus's clips are repeated (each shuffled pass in full before the next) and a large
    one's subsampled, so no corpus dominates what the model learns. Otherwise (and always for
    one corpus, drawing exactly as before) a permutation of every clip.
    """
    n_corpora = int(corpora.max()) + 1 if len(corpora) else 0
    if not balance or n_corpora < 2:
        return rng.permutation(len(corpora))
    share = len(corpora) // n_corpora
    parts = []
    for c in range(n_corpora):
        members = np.flatnonzero(corpora == c)
        passes = -(-share // len(members))  # ceil
        parts.append(np.concatenate([rng.permutation(members) for _ in range(passes)])[:share])
    order = np.concatenate(parts)
    return order[rng.permutation(len(order))]


def saved_config(run_dir: str | Path) -> dict | None:
    """The settings a run folder (or a CV folder) was trained with, as a mapping; None if none."""
    run_dir = Path(run_dir)
    candidates = [run_dir / CONFIG_NAME, *sorted(run_dir.glob(f"fold*/{CONFIG_NAME}"))]
    for path in candidates:
        if path.is_file():
            return read_config_file(path)
    return None


def check_same_recipe(saved: dict, cfg: RunConfig, run_dir: Path) -> None:
    """Refuse (one line, nothing written) a resume whose settings differ beyond RESUME_SAFE."""
    old = _flat(load_run_config(base=saved).to_dict())
    new = _flat(cfg.to_dict())
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    changed = [k for k in changed if k not in RESUME_SAFE]
    if changed:
        shown = "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:4])
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        raise ConfigError(
            f"{run_dir}: --resume with a changed recipe ({shown}{more}); resume with the run's "
            "own settings (only epochs, patience, device, amp and threads may change) "
            "or train into a new --out."
        )


def _flat(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "model_options":
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def lr_at(step: int, total: int, peak: float, warmup_frac: float) -> float:
    """One-cycle schedule: linear warm-up to ``peak``, then cosine decay to 1% of it."""
    warmup = max(1, int(total * warmup_frac))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights (mean 1 over present classes) for weighted cross-entropy."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.where(
        counts > 0, counts.sum() / (np.count_nonzero(counts) * np.maximum(counts, 1)), 0.0
    )
    return weights.astype(np.float32)


def masked_cross_entropy(logits, targets, allowed, weight, label_smoothing: float):
    """Cross-entropy over each example's own label set.

    Args:
        logits: (batch, classes); targets: (batch,) class indices; allowed: (batch, classes)
        bool, the labels each example's corpus annotates (its target among them);
        weight: (classes,) class weights; label_smoothing: share of the target spread evenly
        over the example's allowed labels only.
    A label the example's corpus never uses gets no probability and no gradient from it: a
    corpus without "calm" neither teaches that its clips are not calm nor that calm means
    another corpus. Returns the weighted mean over the batch, as CrossEntropyLoss does.
    """
    import torch

    logp = torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), dim=1)
    w = weight[targets]
    nll = -w * logp.gather(1, targets[:, None]).squeeze(1)
    # torch's weighted smoothing term (each class by its own weight), over allowed labels only.
    spread = -(logp.masked_fill(~allowed, 0.0) * weight).sum(1) / allowed.sum(1)
    return ((1 - label_smoothing) * nll + label_smoothing * spread).sum() / w.sum()


def optimizer_step(
    net,
    model,
    optimizer,
    criterion,
    batch,
    device: str,
    use_amp: bool,
    grad_clip: float,
    allowed=None,
) -> float:
    """One step on a numpy batch (x, mask, y): forward (bf16 autocast on CUDA when ``use_amp``),
    loss, backward, gradient clipping on ``model``'s parameters, update. ``net`` is ``model`` or
    its DistributedDataParallel wrapper. With ``allowed`` ((batch, classes) bool, the labels
    each clip's corpus annotates), ``criterion`` is called as criterion(logits, y, allowed).
    Returns the batch's mean loss."""
    import torch

    x, mask, y = batch
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
        logits = net(torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device))
    targets = torch.from_numpy(y).to(device)
    if allowed is None:
        loss = criterion(logits.float(), targets)
    else:
        loss = criterion(logits.float(), targets, torch.from_numpy(allowed).to(device))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


class EpochSteps:
    """One epoch's optimiser steps on the one-cycle schedule, and its running mean loss.

    Before each step every parameter group gets its rate from ``lr_at`` and the group's own
    ``peak``; after it, ``on_progress`` gets the step count and the epoch's mean loss so far.
    """

    def __init__(self, optimizer, tc, epoch: int, steps_per_epoch: int, on_progress=None):
        self.optimizer, self.tc, self.epoch = optimizer, tc, epoch
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = steps_per_epoch * tc.epochs
        self.on_progress = on_progress
        self.running, self.seen = 0.0, 0

    def step(
        self, b: int, net, model, criterion, batch, device: str, use_amp: bool, allowed=None
    ) -> None:
        """Step ``b`` of the epoch on the numpy batch (x, mask, y); see optimizer_step."""
        step = self.epoch * self.steps_per_epoch + b
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(step, self.total_steps, group["peak"], self.tc.warmup_frac)
        loss = optimizer_step(
            net,
            model,
            self.optimizer,
            criterion,
            batch,
            device,
            use_amp,
            self.tc.grad_clip,
            allowed,
        )
        count = len(batch[0])
        self.running += loss * count
        self.seen += count
        if self.on_progress:
            self.on_progress(
                step + 1,
                self.total_steps,
                f"epoch {self.epoch + 1}/{self.tc.epochs} loss {self.running / self.seen:.3f}",
            )

    def mean_loss(self, ctx) -> float:
        """The epoch's mean training loss over every rank's examples."""
        return ctx.mean(self.running / max(self.seen, 1), self.seen)


def train_run(
    rows: list[dict],
    cfg: RunConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    on_progress: Progress | None = None,
    cache_root=None,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train ``cfg.model`` on the manifest rows' train split; see the module docstring."""
    import torch

    from ser_cli.inference.calibration import calibrate_run
    from ser_cli.inference.metrics import compute_metrics
    from ser_cli.models import (
        build_model,
        check_model_options,
        get_spec,
        model_config,
        saved_model_config,
    )

    run_dir = Path(run_dir)
    tc = cfg.train
    spec = get_spec(cfg.model)
    if spec.features != ("ssl" if cfg.features.kind == "ssl" else "logmel"):
        raise ConfigError(
            f"model '{cfg.model}' reads '{spec.features}' features, but features.kind is '{cfg.features.kind}'."
        )
    check_model_options(cfg.model, cfg.model_options)  # names and values, before any work
    check_outputs([Output(run_dir, "--out", folder=True, model=True)], resume=resume)
    train_rows = [r for r in rows if r.get("split") == "train"]
    val_rows = [r for r in rows if r.get("split") == "val"]
    if not train_rows:
        raise ManifestError(
            "the manifest's 'train' split is empty; rerun `ser prepare` or check the split column."
        )
    labels = labels_for(train_rows)
    if len(labels) < 2:
        raise ManifestError(
            f"the train split has only {len(labels)} emotion(s); at least 2 are needed to train."
        )
    if resume and not (run_dir / "last.json").exists():
        raise ConfigError(f"{run_dir}: nothing to resume (no last.json); start without --resume.")
    if not resume and (run_dir / "last.json").exists():
        raise ConfigError(
            f"{run_dir}: already holds a run; use --resume to continue it or choose another --out."
        )
    if resume:
        saved = saved_config(run_dir)
        if saved is None:
            raise ConfigError(
                f"{run_dir}: no {CONFIG_NAME} to resume from; start without --resume."
            )
        check_same_recipe(saved, cfg, run_dir)
    remove_stale_temps(run_dir)
    from ser_cli.training.finetune import finetune_run, wants_finetune

    if tc.swa and (wants_finetune(cfg) or spec.fitter == "sklearn"):
        raise ConfigError(
            f"train.swa averages the weights of gradient-trained epochs; model '{cfg.model}' "
            f"{'fine-tunes an encoder' if wants_finetune(cfg) else 'is fitted in one pass'} "
            "here: leave train.swa at 0."
        )
    if wants_finetune(cfg):  # encoder weights train: the separate waveform path
        return finetune_run(
            train_rows, val_rows, labels, cfg, run_dir,
            resume=resume, on_progress=on_progress, cache_root=cache_root,
        )  # fmt: skip

    device = resolve_device(tc.device)
    ctx = distributed.setup(device)  # torchrun: one rank of several; else a no-op
    if not ctx.is_main:
        on_progress = None  # one progress display: rank 0's
    # CPU results depend on the thread count (how reductions are split), which is process state
    # that an import can change (silero_vad sets 1): pin it so one seed gives one result.
    threads = tc.num_threads or default_threads()
    torch.set_num_threads(threads)
    started = time.time()

    distributed.prefetch_features(train_rows + val_rows, cfg.features, cache_root, ctx, on_progress)
    train = load_clips(
        train_rows, cfg.features, labels, cache_root=cache_root, on_progress=on_progress
    )
    val = load_clips(val_rows, cfg.features, labels, cache_root=cache_root) if val_rows else None
    global_stats = frame_stats(train.features)
    train_stats = clip_stats(train, tc.normalization, global_stats)
    val_stats = clip_stats(val, tc.normalization, global_stats) if val else None

    dims = train.features[0].shape[-1]
    extra = {"n_layers": train.features[0].shape[0]} if spec.features == "ssl" else {}
    mcfg = model_config(
        cfg.model, cfg.model_options, n_features=dims, n_classes=len(labels), **extra
    )
    if resume:  # the architecture the run was started with, whatever today's defaults are
        mcfg = saved_model_config(cfg.model, read_sidecar(run_dir, "last")["model_config"])
    # Seeded here, just before the weights are drawn, not before the features: computing
    # uncached features (building an SSL encoder) may draw from the global RNG, and the
    # initial weights would then differ between a cold and a warm feature cache.
    torch.manual_seed(tc.seed)
    model = build_model(cfg.model, mcfg).to(device)
    meta = {
        "model": cfg.model,
        "model_config": asdict(mcfg),
        "feature_config": cfg.features.to_dict(),
        "labels": list(labels),
        "train_config": asdict(tc),
        "train_speakers": sorted(set(train.groups)),
        "torch_threads": threads,
        # Results are byte-identical run to run on one machine, not across CPU instruction
        # sets (the kernels round differently): recorded so a rerun elsewhere can tell.
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    if ctx.is_main and not resume:  # a resumed run's config is rewritten once it is restored
        run_dir.mkdir(parents=True, exist_ok=True)
        save_run_config(cfg, run_dir / CONFIG_NAME)

    def evaluate(epoch: int, scored=model) -> dict:
        if val is None:
            return {}
        probs = probabilities(
            scored,
            val.features,
            val_stats,
            max_frames=tc.max_eval_frames,
            batch_size=tc.batch_size,
            device=device,
        )
        return compute_metrics(val.labels, probs.argmax(1), labels)

    if spec.fitter == "sklearn":
        if ctx.active:
            raise ConfigError(
                f"model '{cfg.model}' is fitted in one pass; run it without torchrun."
            )
        result = _fit_closed_form(
            model, train, train_stats, labels, tc, meta, global_stats, run_dir, evaluate, started
        )
        if val is not None:  # temperature scaling on the validation split
            calibrate_run(run_dir, val, val_stats, device, tc.batch_size, tc.max_eval_frames)
        return result

    weights = torch.as_tensor(class_weights(train.labels, len(labels)), device=device)
    corpora = corpus_ids(train_rows)
    allowed = allowed_labels(train_rows, labels)
    if allowed is None:  # one corpus, or corpora that share every label: plain cross-entropy
        criterion = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=tc.label_smoothing)
    else:

        def criterion(logits, targets, allowed_batch):
            return masked_cross_entropy(logits, targets, allowed_batch, weights, tc.label_smoothing)

    optimizer = torch.optim.AdamW(
        [{"params": model.parameters(), "peak": tc.lr}], lr=tc.lr, weight_decay=tc.weight_decay
    )
    net = ctx.wrap(model, device)  # DistributedDataParallel under torchrun
    steps_per_epoch = math.ceil(math.ceil(len(train) / ctx.world) / tc.batch_size)
    total_steps = steps_per_epoch * tc.epochs
    use_amp = tc.amp and device == "cuda"

    averaged = SwaWeights(model, tc) if tc.swa else None
    start_epoch, best_uar, stale, history = 0, -1.0, 0, []
    if resume:
        start_epoch, best_uar, stale, history = _restore(run_dir, model, optimizer, device)
        if averaged is not None:
            averaged.restore(run_dir, device, start_epoch)
        if ctx.is_main:
            save_run_config(cfg, run_dir / CONFIG_NAME)
    # A run that already stopped early stays stopped: resuming it must not train one more epoch.
    stopped = val is not None and tc.patience and stale >= tc.patience
    end_epoch = start_epoch if stopped else tc.epochs

    epoch = start_epoch
    try:
        for epoch in range(start_epoch, end_epoch):
            net.train()
            # Per-epoch seeds (data order, augmentation, dropout): a resumed run replays exactly.
            # Under torchrun every rank draws the same order and trains on its own shard.
            rng = np.random.default_rng([tc.seed, epoch])
            torch.manual_seed(ctx.torch_seed(tc.seed * 10_000 + epoch))
            order = ctx.shard(epoch_order(rng, corpora, tc.corpus_balance))
            rng = ctx.rank_rng(rng, tc.seed, epoch)
            steps = EpochSteps(optimizer, tc, epoch, steps_per_epoch, on_progress)
            for b in range(steps_per_epoch):
                index = order[b * tc.batch_size : (b + 1) * tc.batch_size]
                if len(index) < 2:  # batch norm needs two examples
                    continue
                x, mask, y = train_batch(
                    train,
                    index,
                    train_stats,
                    tc.crop_frames,
                    tc.augment if spec.features == "logmel" else None,
                    rng,
                    global_stats,
                    tc.global_norm_prob if tc.normalization == "speaker" else 0.0,
                )
                if tc.mixup:
                    x, mask, y = mixup(x, mask, y, len(labels), tc.mixup, rng)
                steps.step(
                    b,
                    net,
                    model,
                    criterion,
                    (x, mask, y),
                    device,
                    use_amp,
                    None if allowed is None else allowed[index],
                )
            ctx.sync_buffers(model)  # batch-norm statistics as rank 0's: one model everywhere
            scored = averaged.after_epoch(epoch) if averaged is not None else model
            metrics = evaluate(epoch, scored)
            record = {
                "epoch": epoch + 1,
                "train_loss": steps.mean_loss(ctx),
                "lr": optimizer.param_groups[0]["lr"],
            }
            record.update(
                {f"val_{k}": v for k, v in metrics.items() if k in ("accuracy", "uar", "macro_f1")}
            )
            history.append(record)
            if ctx.is_main:
                _write_history(run_dir, history)
                if on_epoch:  # e.g. TensorBoard (`ser train --tensorboard`)
                    on_epoch(record)
            improved, best_uar, stale = track_best(metrics, best_uar, stale)
            state = {"epoch": epoch + 1, "best_uar": best_uar, "stale": stale}
            if improved and ctx.is_main:
                save_checkpoint(
                    run_dir, "best", scored, {**meta, "metrics": metrics, **state}, global_stats
                )
            if ctx.is_main:
                save_checkpoint(
                    run_dir,
                    "last",
                    model,
                    {**meta, "metrics": metrics, **state},
                    global_stats,
                    optimizer,
                )
                if averaged is not None:
                    averaged.save(run_dir)
            if on_progress and metrics:
                on_progress(
                    (epoch + 1) * steps_per_epoch,
                    total_steps,
                    f"epoch {epoch + 1} val uar {metrics['uar']:.3f} (best {best_uar:.3f})",
                )
            if metrics and tc.patience and stale >= tc.patience:
                break
    except KeyboardInterrupt:
        # ``last`` already holds the end of the last complete epoch. The weights in memory are
        # part-way through this one: saving them under the previous epoch's number would make
        # --resume replay the epoch on top of them, so they are dropped.
        if (run_dir / "last.json").exists():
            done = read_sidecar(run_dir, "last").get("epoch", 0)
            raise TrainingInterrupted(
                f"interrupted during epoch {epoch + 1}; {run_dir / 'last.safetensors'} holds "
                f"epoch {done}. Continue with --resume."
            ) from None
        raise TrainingInterrupted(
            f"interrupted during epoch {epoch + 1}, before any epoch finished: nothing to resume; "
            "run the same command again (without --resume)."
        ) from None

    if val is not None and ctx.is_main:  # temperature scaling of the best epoch on val
        calibrate_run(run_dir, val, val_stats, device, tc.batch_size, tc.max_eval_frames)
    ctx.barrier()  # rank 0 has written best.json
    best = json.loads((run_dir / "best.json").read_text()).get("metrics", {})
    if ctx.is_main:
        _save_curve(run_dir, history)
    return TrainResult(run_dir, best, len(history), time.time() - started, history)


def _fit_closed_form(
    model, train, train_stats, labels, tc, meta, global_stats, run_dir, evaluate, started
) -> TrainResult:
    """Fit a scikit-learn-backed model (the classic baseline) in one pass."""
    import torch

    from ser_cli.models.classic import fit_classic, utterance_stats

    stats_rows = []
    for x, mask, index in iter_batches(
        train.features, train_stats, tc.batch_size, tc.max_eval_frames
    ):
        stats_rows.append((index, utterance_stats(torch.from_numpy(x), torch.from_numpy(mask))))
    feats = torch.zeros(len(train), stats_rows[0][1].shape[1])
    for index, s in stats_rows:
        feats[torch.as_tensor(index)] = s
    weights = class_weights(train.labels, len(labels))
    fit_classic(
        model,
        feats,
        torch.as_tensor(train.labels),
        {i: float(w) for i, w in enumerate(weights) if w > 0},
        tc.seed,
    )
    metrics = evaluate(0)
    record = {
        "epoch": 1,
        **{f"val_{k}": v for k, v in metrics.items() if k in ("accuracy", "uar", "macro_f1")},
    }
    _write_history(run_dir, [record])
    state = {"epoch": 1, "best_uar": metrics.get("uar", -1.0), "stale": 0, "metrics": metrics}
    for tag in ("best", "last"):
        save_checkpoint(run_dir, tag, model, {**meta, **state}, global_stats)
    _save_curve(run_dir, [record])
    return TrainResult(run_dir, metrics, 1, time.time() - started, [record])


class SwaWeights:
    """Stochastic weight averaging over the last ``train.swa`` share of the epochs.

    The equal-weight mean of the weights (batch-norm statistics included) at the end of each
    epoch from ``start`` on, in torch's ``AveragedModel``; before ``start`` the model itself is
    scored. The average is saved beside ``last`` so a resumed run continues it.
    """

    FILE = "last.swa.safetensors"

    def __init__(self, model, tc):
        from torch.optim.swa_utils import AveragedModel

        self.model = model
        self.averaged = AveragedModel(model, use_buffers=True)
        self.start = tc.epochs - max(1, round(tc.swa * tc.epochs))

    def after_epoch(self, epoch: int):
        """Add the epoch's weights once averaging has begun; the module to score and save."""
        if epoch < self.start:
            return self.model
        self.averaged.update_parameters(self.model)
        return self.averaged.module

    def save(self, run_dir: Path) -> None:
        from safetensors.torch import save_file

        if int(self.averaged.n_averaged) == 0:
            return
        state = {k: v.detach().cpu().contiguous() for k, v in self.averaged.state_dict().items()}
        with atomic_path(run_dir / self.FILE) as tmp:
            save_file(state, str(tmp))

    def restore(self, run_dir: Path, device: str, epochs_done: int) -> None:
        """Continue the average saved with ``last`` (``epochs_done`` epochs into the run)."""
        from safetensors.torch import load_file

        path = run_dir / self.FILE
        if path.exists():  # absent: averaging had not begun when the run stopped
            self.averaged.load_state_dict(load_file(str(path), device=device))
        if int(self.averaged.n_averaged) != max(0, epochs_done - self.start):
            raise ModelError(
                f"{run_dir}: cannot resume, {self.FILE} does not match the last checkpoint "
                f"(epoch {epochs_done}); train into a new --out."
            )


def track_best(metrics: dict, best_uar: float, stale: int) -> tuple[bool, float, int]:
    """After an epoch: (improved, best_uar, stale) for checkpointing and early stopping.

    Without a val split (``metrics`` empty) every epoch counts as improved and none as stale.
    """
    improved = not metrics or metrics["uar"] > best_uar
    if metrics and improved:
        best_uar, stale = metrics["uar"], 0
    elif metrics:
        stale += 1
    return improved, best_uar, stale


def _restore(run_dir: Path, model, optimizer, device: str):
    from ser_cli.models.checkpoint import load_weights

    meta = read_sidecar(run_dir, "last")
    try:
        load_weights(run_dir, "last", model, device)
        optim_path = run_dir / "last.optim.safetensors"
        if optim_path.exists():
            restore_optimizer(optimizer, optim_path)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors, torch and KeyError all mean "damaged"
        raise ModelError(
            f"{run_dir}: cannot resume, the last checkpoint is damaged "
            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
            "train into a new --out."
        ) from None
    history = _read_history(run_dir)[: meta["epoch"]]
    if distributed.is_main_process():
        _write_history(run_dir, history)
    return meta["epoch"], meta.get("best_uar", -1.0), meta.get("stale", 0), history


def _save_curve(run_dir: Path, history: list[dict]) -> None:
    """training_curve.png beside history.jsonl (loss, validation UAR and accuracy per epoch)."""
    from ser_cli.plots import CURVE_NAME, save_training_curve

    save_training_curve(history, run_dir / CURVE_NAME)


def _read_history(run_dir: Path) -> list[dict]:
    """history.jsonl's records; a damaged line (a truncated last write) ends the history."""
    path = run_dir / HISTORY_NAME
    if not path.is_file():
        return []
    history = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            break
        if not isinstance(record, dict):
            break
        history.append(record)
    return history


def _write_history(run_dir: Path, history: list[dict]) -> None:
    """Rewrite history.jsonl whole and atomically (a crash never leaves half a line)."""
    write_text(run_dir / HISTORY_NAME, "".join(json.dumps(h) + "\n" for h in history))
