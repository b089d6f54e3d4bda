"""Fine-tuning a pretrained speech encoder under the `ssl` head: what differs from training on
cached features. The loop, checkpoints, history and resume are the trainer's
(:func:`ser_cli.training.trainer.train_run`); this module supplies the model and its hooks.

``train_run`` takes this path when ``model_options.finetune`` is ``top-N`` or ``all``. Cached
hidden states cannot be used (the encoder changes every step), so each batch is raw audio
through the encoder: clips are read once as 20 ms waveform frames (cached like any feature)
and batched by :class:`~ser_cli.training.batchers.WaveformBatcher`. The head learns at
``train.lr`` and the encoder's trainable blocks at the lower ``train.encoder_lr``, both on the
trainer's one-cycle schedule (:func:`param_groups`); the encoder's own time masking
(``train.mask_time_prob``) is the augmentation; ``train.gradient_checkpointing`` recomputes
encoder activations in the backward pass; on CUDA the forward runs under bf16 autocast.

Checkpoints hold the head and all encoder weights (frozen ones included, so a run loads on its
own), the encoder's transformers config in the sidecar's model_config, its id or path in
``feature_config.ssl_model``. Feature kind ``waveform`` and global (identity) normalisation are
recorded, so predict, eval and listen run the encoder on raw audio.
"""

from __future__ import annotations

import numpy as np

from ser_cli.config import RunConfig, TrainConfig
from ser_cli.errors import ConfigError
from ser_cli.features.extract import FeatureConfig
from ser_cli.features.normalization import Stats
from ser_cli.features.ssl_encoder import WAVE_FRAME


def wants_finetune(cfg: RunConfig) -> bool:
    """True when the run trains encoder weights (model ssl, finetune other than none)."""
    return cfg.model == "ssl" and cfg.model_options.get("finetune", "none") != "none"


def waveform_config(cfg: RunConfig) -> FeatureConfig:
    """The features a fine-tuned run reads: 20 ms frames of the untrimmed waveform."""
    if not cfg.features.ssl_model:
        raise ConfigError("fine-tuning needs features.ssl_model (a Hugging Face id or folder).")
    return FeatureConfig(
        kind="waveform",
        ssl_model=cfg.features.ssl_model,
        ssl_max_seconds=cfg.features.ssl_max_seconds,
        trim_silence=False,
    )


def identity_stats() -> Stats:
    """Raw audio is normalised per clip by the model: no statistics to apply."""
    return Stats(np.zeros(WAVE_FRAME, np.float32), np.ones(WAVE_FRAME, np.float32))


def finetune_model(cfg: RunConfig, labels: tuple[str, ...]):
    """(model, its config): the ssl head on the pretrained encoder named by
    ``features.ssl_model``, its weights loaded, set up for training as ``cfg.train`` says."""
    from ser_cli.models import build_model, model_config
    from ser_cli.models.ssl_finetune import encoder_options, pretrained_encoder

    tc = cfg.train
    encoder, extractor = pretrained_encoder(cfg.features.ssl_model)
    mcfg = model_config(
        "ssl", cfg.model_options, n_classes=len(labels), **encoder_options(encoder, extractor)
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
    return model, mcfg


def param_groups(model, tc: TrainConfig) -> list[dict]:
    """The optimizer's parameter groups: the head at ``train.lr``, the encoder's trainable
    blocks at the lower ``train.encoder_lr`` (pretrained weights move gently)."""
    groups = [{"name": "head", "params": model.head_parameters(), "peak": tc.lr}]
    if model.encoder_parameters():
        groups.append(
            {"name": "encoder", "params": model.encoder_parameters(), "peak": tc.encoder_lr}
        )
    return groups
