"""The trainer: one loop for every registered model, reading top to bottom.

``train_run`` takes manifest rows and a RunConfig, trains on the ``train`` split, selects on
the ``val`` split's unweighted average recall (UAR) when there is one, and leaves a run folder
with ``best``/``last`` checkpoints, ``config.yaml`` and ``history.jsonl``
(:mod:`ser_cli.training.run_state`). Interrupting it (Ctrl-C) keeps ``last`` as saved at the
end of the last complete epoch (never half-trained weights), whatever the model;
``resume=True`` continues from there exactly, and refuses a changed recipe.

Models differ only in what :class:`TrainingSetup` holds: models on cached features (log-mel,
or a frozen encoder's hidden states) get a :class:`~ser_cli.training.batchers.FeatureBatcher`
and one parameter group; a fine-tuned encoder (:mod:`ser_cli.training.finetune`) gets a
:class:`~ser_cli.training.batchers.WaveformBatcher` and a lower learning rate for the encoder.
The classic baseline is fitted in one pass instead (scikit-learn).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ser_cli.atomic import remove_stale_temps
from ser_cli.config import RunConfig, TrainConfig, save_run_config
from ser_cli.errors import ConfigError, ManifestError
from ser_cli.features.clips import ClipSet, clip_stats, load_clips
from ser_cli.features.normalization import Stats, frame_stats
from ser_cli.inference.batch import iter_batches, probabilities
from ser_cli.labels import EMOTIONS
from ser_cli.models.checkpoint import read_sidecar, save_checkpoint
from ser_cli.outputs import Output, check_outputs
from ser_cli.progress import Progress
from ser_cli.training import distributed
from ser_cli.training.batchers import FeatureBatcher, WaveformBatcher
from ser_cli.training.finetune import (
    finetune_model,
    identity_stats,
    param_groups,
    wants_finetune,
    waveform_config,
)
from ser_cli.training.run_state import (
    CONFIG_NAME,
    METRICS_LOGGED,
    RunState,
    check_run_folder,
    end_epoch,
    interrupted,
    restore,
    save_curve,
    write_history,
)


@dataclass
class TrainResult:
    run_dir: Path
    best_metrics: dict  # validation metrics of the best epoch ({} without a val split)
    epochs_run: int
    seconds: float
    history: list[dict] = field(default_factory=list)


@dataclass
class TrainingSetup:
    """What a model brings to the one loop; everything else in train_run is shared."""

    model: object  # torch.nn.Module, built and initialised (on the CPU)
    batcher: FeatureBatcher | WaveformBatcher
    param_groups: Callable[[object, TrainConfig], list[dict]]  # hook: (model, tc) -> groups
    train: ClipSet
    val: ClipSet | None
    val_stats: list[Stats] | None  # the statistics each validation clip is normalised by
    global_stats: Stats  # saved beside the weights
    meta: dict  # the checkpoint sidecar (without metrics and epoch state)
    eval_autocast: bool = False  # validate under the training autocast (bf16 on CUDA)
    calibrate: bool = True  # fit a softmax temperature on val after training


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


def clip_class_weights(labels: np.ndarray, corpora: np.ndarray, n_classes: int) -> np.ndarray:
    """(clips, classes): :func:`class_weights` of each clip's own corpus, for
    ``train.class_weights: corpus``. A label only one corpus has is weighed against that
    corpus's other labels, not against the clip count of every corpus."""
    table = np.stack(
        [class_weights(labels[corpora == c], n_classes) for c in range(int(corpora.max()) + 1)]
    )
    return table[corpora]


def masked_cross_entropy(logits, targets, allowed, weight, label_smoothing: float):
    """Cross-entropy over each example's own label set.

    Args:
        logits: (batch, classes); targets: (batch,) class indices; allowed: (batch, classes)
        bool, the labels each example's corpus annotates (its target among them);
        weight: (classes,) class weights, or (batch, classes) each example's own (its corpus's:
        :func:`clip_class_weights`); label_smoothing: share of the target spread evenly
        over the example's allowed labels only.
    A label the example's corpus never uses gets no probability and no gradient from it: a
    corpus without "calm" neither teaches that its clips are not calm nor that calm means
    another corpus. Returns the weighted mean over the batch, as CrossEntropyLoss does.
    """
    import torch

    logp = torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), dim=1)
    weight = weight.expand_as(logits)
    w = weight.gather(1, targets[:, None]).squeeze(1)
    nll = -w * logp.gather(1, targets[:, None]).squeeze(1)
    # torch's weighted smoothing term (each class by its own weight), over allowed labels only.
    spread = -(logp.masked_fill(~allowed, 0.0) * weight).sum(1) / allowed.sum(1)
    return ((1 - label_smoothing) * nll + label_smoothing * spread).sum() / w.sum()


def distillation_loss(student, teacher, allowed=None):
    """KL(teacher || student), batch mean: the student's log-probabilities pulled towards the
    teacher's probabilities. Both (batch, classes), logits or log-probabilities (an ensemble's
    output); with ``allowed`` ((batch, classes) bool) both are taken over each clip's own labels.
    """
    import torch

    if allowed is not None:
        student = student.masked_fill(~allowed, float("-inf"))
        teacher = teacher.masked_fill(~allowed, float("-inf"))
    log_p = torch.log_softmax(teacher, dim=1)
    log_q = torch.log_softmax(student, dim=1)
    # 0 * log 0 terms (a masked label) contribute nothing.
    terms = torch.where(log_p.isfinite(), log_p.exp() * (log_p - log_q), 0.0)
    return terms.sum(1).mean()


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
    teacher=None,
    distill: float = 0.0,
    weights=None,
) -> float:
    """One step on a numpy batch (x, mask, y): forward (bf16 autocast on CUDA when ``use_amp``),
    loss, backward, gradient clipping on ``model``'s parameters, update. ``net`` is ``model`` or
    its DistributedDataParallel wrapper. With ``allowed`` ((batch, classes) bool, the labels
    each clip's corpus annotates), ``criterion`` is called as criterion(logits, y, allowed),
    and with ``weights`` too ((batch, classes), each clip's class weights) as
    criterion(logits, y, allowed, weights).
    With a ``teacher`` module, the loss is (1 - distill) x that + distill x
    :func:`distillation_loss` against the teacher's output on the same batch. A model with a
    ``penalty()`` (a prior on its own weights, e.g. enhanced's ``voice_l2``) adds it to the loss.
    Returns the batch's mean loss."""
    import torch

    x, mask, y = batch
    x, mask = torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
        heads = net(x, mask)
    # A model of several experts (enhanced with a voice head) returns each one's logits in
    # training mode: each is trained on its own loss, and the losses add up.
    heads = heads if isinstance(heads, tuple) else (heads,)
    targets = torch.from_numpy(y).to(device)
    allowed_t = None if allowed is None else torch.from_numpy(allowed).to(device)
    per_clip = () if weights is None else (torch.from_numpy(weights).to(device),)
    soft = None
    if teacher is not None:
        with torch.no_grad():
            soft = teacher(x, mask).float()
    loss = 0.0
    for logits in heads:
        logits = logits.float()
        own = (
            criterion(logits, targets)
            if allowed is None
            else criterion(logits, targets, allowed_t, *per_clip)
        )
        if soft is not None:
            own = (1 - distill) * own + distill * distillation_loss(logits, soft, allowed_t)
        loss = loss + own
    penalty = model.penalty() if hasattr(model, "penalty") else None  # a model's own prior
    if penalty is not None:
        loss = loss + penalty
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


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
    from ser_cli.models import available_models, check_model_options, get_spec, reads_voice

    run_dir = Path(run_dir)
    tc = cfg.train
    spec = get_spec(cfg.model)
    if spec.features != ("ssl" if cfg.features.kind == "ssl" else "logmel"):
        raise ConfigError(
            f"model '{cfg.model}' reads '{spec.features}' features, but features.kind is '{cfg.features.kind}'."
        )
    if cfg.features.voice and not reads_voice(cfg.model):
        readers = ", ".join(n for n in available_models() if reads_voice(n))
        raise ConfigError(
            f"features.voice is read by model {readers} only, not '{cfg.model}'; "
            "choose that model or set features.voice=false."
        )
    check_model_options(cfg.model, cfg.model_options)  # names and values, before any work
    if cfg.model_options.get("voice_l2") and not cfg.features.voice:
        raise ConfigError(
            "model_options.voice_l2 is a prior on the voice head, which only features.voice "
            "adds: set features.voice=true, or leave voice_l2 at 0."
        )
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
    check_run_folder(run_dir, cfg, resume)
    remove_stale_temps(run_dir)

    device = resolve_device(tc.device)
    ctx = distributed.setup(device)  # torchrun: one rank of several; else a no-op
    if not ctx.is_main:
        on_progress = None  # one progress display: rank 0's
    # CPU results depend on the thread count (how reductions are split), which is process state
    # that an import can change (silero_vad sets 1): pin it so one seed gives one result.
    threads = tc.num_threads or default_threads()
    torch.set_num_threads(threads)
    started = time.time()

    # checked and loaded before any feature is computed
    teacher = load_teacher(tc.teacher, cfg, labels, device) if tc.teacher else None
    prepare = _waveform_setup if wants_finetune(cfg) else _feature_setup
    setup = prepare(cfg, labels, train_rows, val_rows, run_dir if resume else None, ctx,
                    cache_root, on_progress)  # fmt: skip
    model = setup.model.to(device)
    meta = {
        **setup.meta,
        "torch_threads": threads,
        # Results are byte-identical run to run on one machine, not across CPU instruction
        # sets (the kernels round differently): recorded so a rerun elsewhere can tell.
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    if ctx.is_main and not resume:  # a resumed run's config is rewritten once it is restored
        run_dir.mkdir(parents=True, exist_ok=True)
        save_run_config(cfg, run_dir / CONFIG_NAME)
    use_amp = tc.amp and device == "cuda"
    val = setup.val

    def evaluate() -> dict:
        """Validation metrics of the model as it is now ({} without a val split)."""
        if val is None:
            return {}
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp and setup.eval_autocast):
            probs = probabilities(
                model,
                val.features,
                setup.val_stats,
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
            model, setup.train, setup.batcher.stats, labels, tc, meta, setup.global_stats,
            run_dir, evaluate, started,
        )  # fmt: skip
        if val is not None:  # temperature scaling on the validation split
            calibrate_run(run_dir, val, setup.val_stats, device, tc.batch_size, tc.max_eval_frames)
        return result

    weights = torch.as_tensor(class_weights(setup.train.labels, len(labels)), device=device)
    allowed = allowed_labels(train_rows, labels)
    corpora = setup.batcher.corpora  # each training clip's corpus (both batchers keep it)
    per_clip = None  # each clip's class weights, when they depend on its corpus
    if tc.class_weights == "corpus" and corpora.max(initial=0) > 0:
        per_clip = clip_class_weights(setup.train.labels, corpora, len(labels))
        if allowed is None:  # corpora sharing every label: the masked loss, nothing masked
            allowed = np.ones(per_clip.shape, dtype=bool)
    if allowed is None:  # one corpus, or corpora that share every label: plain cross-entropy
        criterion = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=tc.label_smoothing)
    else:

        def criterion(logits, targets, allowed_batch, weight=weights):
            return masked_cross_entropy(logits, targets, allowed_batch, weight, tc.label_smoothing)

    optimizer = torch.optim.AdamW(
        setup.param_groups(model, tc), lr=tc.lr, weight_decay=tc.weight_decay
    )
    net = ctx.wrap(model, device)  # DistributedDataParallel under torchrun
    steps_per_epoch = math.ceil(math.ceil(len(setup.train) / ctx.world) / tc.batch_size)
    total_steps = steps_per_epoch * tc.epochs

    state = restore(run_dir, model, optimizer, device) if resume else RunState()
    if resume and ctx.is_main:  # restored: only now may the run's config.yaml change
        save_run_config(cfg, run_dir / CONFIG_NAME)
    # A run that already stopped early stays stopped: resuming it must not train one more epoch.
    stopped = val is not None and state.stopped(tc.patience)
    epoch = state.epoch
    try:
        for epoch in range(state.epoch, state.epoch if stopped else tc.epochs):
            net.train()
            # Per-epoch seeds (data order, augmentation, dropout): a resumed run replays exactly.
            # Under torchrun every rank draws the same order and trains on its own shard.
            rng = np.random.default_rng([tc.seed, epoch])
            torch.manual_seed(ctx.torch_seed(tc.seed * 10_000 + epoch))
            # transformers draws a fine-tuned encoder's time masks from numpy's global generator.
            np.random.seed(ctx.torch_seed(tc.seed * 10_000 + epoch) % 2**32)
            order = ctx.shard(setup.batcher.order(rng))
            rng = ctx.rank_rng(rng, tc.seed, epoch)
            running, seen = 0.0, 0
            for b in range(steps_per_epoch):
                index = order[b * tc.batch_size : (b + 1) * tc.batch_size]
                if len(index) < setup.batcher.min_batch:
                    continue
                batch = setup.batcher.batch(index, rng)
                step = epoch * steps_per_epoch + b
                for group in optimizer.param_groups:  # one-cycle, from each group's own peak
                    group["lr"] = lr_at(step, total_steps, group["peak"], tc.warmup_frac)
                loss = optimizer_step(
                    net, model, optimizer, criterion, batch, device, use_amp, tc.grad_clip,
                    None if allowed is None else allowed[index], teacher, tc.distill,
                    None if per_clip is None else per_clip[index],
                )  # fmt: skip
                running, seen = running + loss * len(index), seen + len(index)
                if on_progress:
                    on_progress(
                        step + 1,
                        total_steps,
                        f"epoch {epoch + 1}/{tc.epochs} loss {running / seen:.3f}",
                    )
            ctx.sync_buffers(model)  # batch-norm statistics as rank 0's: one model everywhere
            metrics = evaluate()  # every rank scores all of val with the same weights
            record = {
                "epoch": epoch + 1,
                "train_loss": ctx.mean(running / max(seen, 1), seen),  # over every rank's clips
                "lr": optimizer.param_groups[0]["lr"],
                **{f"{g['name']}_lr": g["lr"] for g in optimizer.param_groups[1:]},
            }
            end_epoch(run_dir, state, record, metrics, model=model, optimizer=optimizer,
                      meta=meta, global_stats=setup.global_stats, is_main=ctx.is_main)  # fmt: skip
            if ctx.is_main and on_epoch:  # e.g. TensorBoard (`ser train --tensorboard`)
                on_epoch(state.history[-1])
            if on_progress and metrics:
                on_progress(
                    (epoch + 1) * steps_per_epoch,
                    total_steps,
                    f"epoch {epoch + 1} val uar {metrics['uar']:.3f} (best {state.best_uar:.3f})",
                )
            if metrics and state.stopped(tc.patience):
                break
    except KeyboardInterrupt:
        raise interrupted(run_dir, epoch) from None

    if setup.calibrate and val is not None and ctx.is_main:  # temperature of the best epoch
        calibrate_run(run_dir, val, setup.val_stats, device, tc.batch_size, tc.max_eval_frames)
    ctx.barrier()  # rank 0 has written best.json
    best = json.loads((run_dir / "best.json").read_text()).get("metrics", {})
    if ctx.is_main:
        save_curve(run_dir, state.history)
    return TrainResult(run_dir, best, len(state.history), time.time() - started, state.history)


def load_teacher(path: str, cfg: RunConfig, labels: tuple[str, ...], device: str):
    """The teacher of a distilled run, in eval mode on ``device``; ConfigError unless it reads
    the same features, normalisation and labels as the run it teaches (log-mel models only)."""
    from ser_cli.models import get_spec
    from ser_cli.models.checkpoint import load_checkpoint

    spec = get_spec(cfg.model)
    if spec.features != "logmel" or wants_finetune(cfg) or spec.fitter == "sklearn":
        raise ConfigError(
            f"train.teacher distils into log-mel models trained by gradient; model "
            f"'{cfg.model}' is not one."
        )
    teacher = load_checkpoint(Path(path).expanduser())
    mismatch = [
        what
        for what, same in (
            ("labels", tuple(teacher.labels) == tuple(labels)),
            ("features", teacher.feature_config.to_dict() == cfg.features.to_dict()),
            ("normalization", teacher.normalization == cfg.train.normalization),
        )
        if not same
    ]
    if mismatch:
        raise ConfigError(
            f"train.teacher {path}: its {', '.join(mismatch)} differ from this run's; distil "
            "from a model trained on the same data with the same features."
        )
    return teacher.model.to(device).eval()


def _feature_setup(
    cfg: RunConfig, labels, train_rows, val_rows, resumed_from, ctx, cache_root, on_progress
) -> TrainingSetup:
    """A model on cached features (log-mel, or a frozen encoder's hidden states): the
    training split's statistics, speaker normalisation, crops and log-mel augmentation."""
    import torch

    from ser_cli.models import build_model, get_spec, model_config, saved_model_config

    tc = cfg.train
    spec = get_spec(cfg.model)
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
    if cfg.features.voice:
        extra["voice_dims"] = cfg.features.voice_dims
    mcfg = model_config(
        cfg.model, cfg.model_options, n_features=dims, n_classes=len(labels), **extra
    )
    if resumed_from:  # the architecture the run was started with, whatever today's defaults are
        mcfg = saved_model_config(cfg.model, read_sidecar(resumed_from, "last")["model_config"])
    # Seeded here, just before the weights are drawn, not before the features: computing
    # uncached features (building an SSL encoder) may draw from the global RNG, and the
    # initial weights would then differ between a cold and a warm feature cache.
    torch.manual_seed(tc.seed)
    model = build_model(cfg.model, mcfg)
    meta = {
        "model": cfg.model,
        "model_config": asdict(mcfg),
        "feature_config": cfg.features.to_dict(),
        "labels": list(labels),
        "train_config": asdict(tc),
        "train_speakers": sorted(set(train.groups)),
    }
    batcher = FeatureBatcher(
        train,
        train_stats,
        tc.crop_frames,
        tc.augment if spec.features == "logmel" else None,
        global_stats,
        tc.global_norm_prob if tc.normalization == "speaker" else 0.0,
        corpus_ids(train_rows),
        tc.corpus_balance,
        cfg.features.voice_dims,
    )
    return TrainingSetup(model, batcher, one_group, train, val, val_stats, global_stats, meta)


def one_group(model, tc: TrainConfig) -> list[dict]:
    """Every weight in one parameter group, at ``train.lr``."""
    return [{"name": "model", "params": model.parameters(), "peak": tc.lr}]


def _waveform_setup(
    cfg: RunConfig, labels, train_rows, val_rows, resumed_from, ctx, cache_root, on_progress
) -> TrainingSetup:
    """A pretrained encoder fine-tuned under the ssl head (:mod:`ser_cli.training.finetune`):
    20 ms waveform frames, no statistics (the model normalises each clip), two learning rates."""
    import torch

    tc = cfg.train
    wave_cfg = waveform_config(cfg)
    torch.manual_seed(tc.seed)  # before the encoder loads: its head's weights are drawn there
    distributed.prefetch_features(train_rows + val_rows, wave_cfg, cache_root, ctx, on_progress)
    train = load_clips(train_rows, wave_cfg, labels, cache_root=cache_root, on_progress=on_progress)
    val = load_clips(val_rows, wave_cfg, labels, cache_root=cache_root) if val_rows else None
    identity = identity_stats()
    model, mcfg = finetune_model(cfg, labels)
    meta = {
        "model": "ssl",
        "model_config": asdict(mcfg),
        "feature_config": wave_cfg.to_dict(),
        "labels": list(labels),
        # Raw audio, normalised per clip by the model: no speaker statistics to adapt.
        "train_config": asdict(replace(tc, normalization="global")),
        "train_speakers": sorted(set(train.groups)),
        "encoder": cfg.features.ssl_model,
        "finetune": {"mode": mcfg.finetune, "trainable_blocks": model.trainable_blocks},
    }
    return TrainingSetup(
        model,
        WaveformBatcher(
            train, tc.crop_frames, tc.batch_size, corpus_ids(train_rows), tc.corpus_balance
        ),
        param_groups,
        train,
        val,
        [identity] * len(val) if val else None,
        identity,
        meta,
        eval_autocast=True,
        calibrate=False,  # (as before the loops were one: not measured on fine-tuned runs)
    )


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
    metrics = evaluate()
    record = {"epoch": 1, **{f"val_{k}": v for k, v in metrics.items() if k in METRICS_LOGGED}}
    write_history(run_dir, [record])
    state = {"epoch": 1, "best_uar": metrics.get("uar", -1.0), "stale": 0, "metrics": metrics}
    for tag in ("best", "last"):
        save_checkpoint(run_dir, tag, model, {**meta, **state}, global_stats)
    save_curve(run_dir, [record])
    return TrainResult(run_dir, metrics, 1, time.time() - started, [record])
