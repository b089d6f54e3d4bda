"""Fine-tuning a pretrained speech encoder under the `ssl` head: the waveform training path.

``train_run`` hands over here when ``model_options.finetune`` is ``top-N`` or ``all``. Cached
hidden states cannot be used (the encoder changes every step), so each batch is raw audio
through the encoder: clips are read once as 20 ms waveform frames (cached like any feature),
grouped into batches of similar length (length bucketing: little padding), randomly cropped
to ``train.crop_frames`` frames (20 ms each here) and padded with a mask. The head learns at
``train.lr`` and the encoder's trainable blocks at the lower ``train.encoder_lr``, both on the
trainer's one-cycle schedule; the encoder's own time masking (``train.mask_time_prob``) is the
augmentation; ``train.gradient_checkpointing`` recomputes encoder activations in the backward
pass; on CUDA the forward runs under bf16 autocast.

Checkpoints are the trainer's (safetensors + JSON sidecar): the head and all encoder weights
(frozen ones included, so a run loads on its own), the encoder's transformers config in the
sidecar's model_config, its id or path in ``feature_config.ssl_model``. The optimizer state
covers the trainable weights only. Feature kind ``waveform`` and global (identity)
normalisation are recorded, so predict, eval and listen run the encoder on raw audio.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from ser_cli.config import RunConfig, save_run_config
from ser_cli.errors import ConfigError
from ser_cli.features.clips import ClipSet, load_clips
from ser_cli.features.extract import FeatureConfig
from ser_cli.features.normalization import Stats
from ser_cli.features.ssl_encoder import WAVE_FRAME
from ser_cli.inference.batch import pad_batch, probabilities
from ser_cli.models.checkpoint import save_checkpoint
from ser_cli.training import distributed
from ser_cli.training.trainer import (
    CONFIG_NAME,
    EpochSteps,
    TrainingInterrupted,
    TrainResult,
    _restore,
    _write_history,
    class_weights,
    resolve_device,
    track_best,
)

BUCKET_BATCHES = 20  # batches per length bucket: sorted within, shuffled between


def wants_finetune(cfg: RunConfig) -> bool:
    """True when the run trains encoder weights (model ssl, finetune other than none)."""
    return cfg.model == "ssl" and cfg.model_options.get("finetune", "none") != "none"


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """One epoch of batches of similar length: shuffle, cut into buckets of BUCKET_BATCHES
    batches, sort each bucket by length, cut it into batches, shuffle the batches.
    Always ceil(len / batch_size) batches, every index exactly once."""
    order = rng.permutation(len(lengths))
    span = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), span):
        bucket = order[start : start + span]
        bucket = bucket[np.argsort(lengths[bucket], kind="stable")]
        batches += [bucket[i : i + batch_size] for i in range(0, len(bucket), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def crop_batch(
    clips: ClipSet, index: np.ndarray, crop_frames: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random crops of at most ``crop_frames`` frames, padded to the batch's longest.
    Returns x (batch, frames, WAVE_FRAME), mask (batch, frames), y (batch,)."""
    items = []
    for i in index:
        x = clips.features[i]
        if x.shape[0] > crop_frames:
            start = int(rng.integers(0, x.shape[0] - crop_frames + 1))
            x = x[start : start + crop_frames]
        items.append(np.asarray(x, dtype=np.float32))
    x, mask = pad_batch(items, max(item.shape[0] for item in items))
    return x, mask, clips.labels[index]


def finetune_run(
    train_rows: list[dict],
    val_rows: list[dict],
    labels: tuple[str, ...],
    cfg: RunConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    on_progress=None,
    cache_root=None,
) -> TrainResult:
    """Fine-tune ``cfg.features.ssl_model`` with the ssl head; see the module docstring.
    ``train_run`` has checked the rows, labels and run folder."""
    import torch

    from ser_cli.inference.metrics import compute_metrics
    from ser_cli.models import build_model, model_config
    from ser_cli.models.ssl_finetune import encoder_options, pretrained_encoder

    tc = cfg.train
    if not cfg.features.ssl_model:
        raise ConfigError("fine-tuning needs features.ssl_model (a Hugging Face id or folder).")
    device = resolve_device(tc.device)
    ctx = distributed.setup(device)
    if not ctx.is_main:
        on_progress = None
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    torch.manual_seed(tc.seed)
    started = time.time()

    wave_cfg = FeatureConfig(
        kind="waveform",
        ssl_model=cfg.features.ssl_model,
        ssl_max_seconds=cfg.features.ssl_max_seconds,
        trim_silence=False,
    )
    distributed.prefetch_features(train_rows + val_rows, wave_cfg, cache_root, ctx, on_progress)
    train = load_clips(train_rows, wave_cfg, labels, cache_root=cache_root, on_progress=on_progress)
    val = load_clips(val_rows, wave_cfg, labels, cache_root=cache_root) if val_rows else None
    identity = Stats(np.zeros(WAVE_FRAME, np.float32), np.ones(WAVE_FRAME, np.float32))

    encoder, extractor = pretrained_encoder(cfg.features.ssl_model)
    mcfg = model_config(
        "ssl",
        cfg.model_options,
        n_classes=len(labels),
        **encoder_options(encoder, extractor),
    )
    model = build_model("ssl", mcfg)
    model.encoder.load_state_dict(encoder.state_dict())
    del encoder
    # The encoder's own SpecAugment-style masking, applied by transformers in train mode only.
    model.encoder.config.mask_time_prob = tc.mask_time_prob
    if tc.gradient_checkpointing:
        # Non-reentrant: with top-N the first trainable block's input needs no gradient, and
        # reentrant checkpointing would then silently skip that block's weight gradients.
        enable = getattr(model.encoder, "activation_checkpointing_enable", None)
        if enable is not None:  # transformers >= 5 renamed gradient_checkpointing_enable
            enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.encoder.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
    model.to(device)
    net = ctx.wrap(model, device)

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
    if ctx.is_main and not resume:  # a resumed run's config is rewritten once it is restored
        run_dir.mkdir(parents=True, exist_ok=True)
        save_run_config(cfg, run_dir / CONFIG_NAME)

    weights = torch.as_tensor(class_weights(train.labels, len(labels)), device=device)
    criterion = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=tc.label_smoothing)
    groups = [{"params": model.head_parameters(), "peak": tc.lr}]
    if model.encoder_parameters():
        groups.append({"params": model.encoder_parameters(), "peak": tc.encoder_lr})
    optimizer = torch.optim.AdamW(groups, lr=tc.lr, weight_decay=tc.weight_decay)
    steps_per_epoch = math.ceil(math.ceil(len(train) / ctx.world) / tc.batch_size)
    total_steps = steps_per_epoch * tc.epochs
    use_amp = tc.amp and device == "cuda"
    lengths = np.array([f.shape[0] for f in train.features])

    def evaluate() -> dict:
        if val is None:
            return {}
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            probs = probabilities(
                model,
                val.features,
                [identity] * len(val),
                max_frames=tc.max_eval_frames,
                batch_size=tc.batch_size,
                device=device,
            )
        return compute_metrics(val.labels, probs.argmax(1), labels)

    start_epoch, best_uar, stale, history = 0, -1.0, 0, []
    if resume:
        start_epoch, best_uar, stale, history = _restore(run_dir, model, optimizer, device)
        if ctx.is_main:
            save_run_config(cfg, run_dir / CONFIG_NAME)

    def save(tag: str, state: dict, metrics: dict, with_optimizer: bool) -> None:
        if ctx.is_main:
            save_checkpoint(
                run_dir,
                tag,
                model,
                {**meta, "metrics": metrics, **state},
                identity,
                optimizer if with_optimizer else None,
            )

    epoch = start_epoch
    try:
        for epoch in range(start_epoch, tc.epochs):
            net.train()
            # Per-epoch seeds as in the trainer: a resumed run replays exactly. Every rank
            # draws the same batches and takes its shard; crops and dropout differ per rank.
            rng = np.random.default_rng([tc.seed, epoch])
            torch.manual_seed(ctx.torch_seed(tc.seed * 10_000 + epoch))
            # transformers draws its time masks from numpy's global generator.
            np.random.seed(ctx.torch_seed(tc.seed * 10_000 + epoch) % 2**32)
            batches = bucketed_batches(lengths, tc.batch_size, rng)
            mine = ctx.shard(np.concatenate(batches))
            rng = ctx.rank_rng(rng, tc.seed, epoch)
            steps = EpochSteps(optimizer, tc, epoch, steps_per_epoch, on_progress)
            for b in range(steps_per_epoch):
                index = mine[b * tc.batch_size : (b + 1) * tc.batch_size]
                x, mask, y = crop_batch(train, index, tc.crop_frames, rng)
                steps.step(b, net, model, criterion, (x, mask, y), device, use_amp)
            ctx.sync_buffers(model)
            metrics = evaluate()  # every rank scores all of val with the same weights
            record = {
                "epoch": epoch + 1,
                "train_loss": steps.mean_loss(ctx),
                "lr": optimizer.param_groups[0]["lr"],
                "encoder_lr": optimizer.param_groups[-1]["lr"],
            }
            record.update(
                {f"val_{k}": v for k, v in metrics.items() if k in ("accuracy", "uar", "macro_f1")}
            )
            history.append(record)
            if ctx.is_main:
                _write_history(run_dir, history)
            improved, best_uar, stale = track_best(metrics, best_uar, stale)
            state = {"epoch": epoch + 1, "best_uar": best_uar, "stale": stale}
            if improved:
                save("best", state, metrics, False)
            save("last", state, metrics, True)
            if on_progress and metrics:
                on_progress(
                    (epoch + 1) * steps_per_epoch,
                    total_steps,
                    f"epoch {epoch + 1} val uar {metrics['uar']:.3f} (best {best_uar:.3f})",
                )
            if metrics and tc.patience and stale >= tc.patience:  # 0: finish the schedule
                break
    except KeyboardInterrupt:
        save("last", {"epoch": epoch, "best_uar": best_uar, "stale": stale}, {}, True)
        raise TrainingInterrupted(
            f"interrupted during epoch {epoch + 1}; saved {run_dir / 'last.safetensors'}. Continue with --resume."
        ) from None

    ctx.barrier()  # rank 0 has written best.json
    best = json.loads((run_dir / "best.json").read_text()).get("metrics", {})
    return TrainResult(run_dir, best, len(history), time.time() - started, history)
