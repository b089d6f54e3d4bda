"""A pretrained speech encoder fine-tuned under the `ssl` head (``model_options.finetune``).

The input is the audio itself, chunked into 20 ms frames by the feature pipeline
(:func:`ser_cli.features.ssl_encoder.waveform_frames`), so batches, crops and masks work as for
any other model: x (batch, frames, 320) and mask (batch, frames). The encoder (wav2vec 2.0,
HuBERT, WavLM, data2vec-audio: anything with a convolutional feature encoder and
``encoder.layers``) is rebuilt from the transformers config saved in the checkpoint, so a
fine-tuned run loads without the original model. Its convolutional feature encoder always
stays frozen; ``top-N`` trains the top N transformer blocks, ``all`` everything else too.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from ser_cli.errors import ModelError
from ser_cli.models.ssl_head import ALL_LAYERS, SSLHead, SSLHeadConfig, parse_finetune

NORM_EPS = 1e-7  # variance floor of the per-clip waveform normalisation (as transformers')


def pretrained_encoder(name_or_path: str):
    """(encoder with pretrained weights, feature extractor) for fine-tuning; layer drop off,
    since every trainable block must run each step (DistributedDataParallel requires it)."""
    from transformers import AutoFeatureExtractor, AutoModel

    from ser_cli.quiet import quiet_transformers

    quiet_transformers()
    try:
        extractor = AutoFeatureExtractor.from_pretrained(name_or_path)
        encoder = AutoModel.from_pretrained(name_or_path, layerdrop=0.0)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot load speech encoder '{name_or_path}' ({str(exc).splitlines()[0]}); "
            "check the Hugging Face id (network needed on first use) or the local folder."
        ) from None
    if not hasattr(encoder, "feature_extractor") or not hasattr(encoder, "encoder"):
        raise ModelError(
            f"'{name_or_path}' ({encoder.config.model_type}) cannot be fine-tuned here: "
            "use a wav2vec 2.0, HuBERT, WavLM or data2vec-audio encoder, or finetune: none."
        )
    return encoder, extractor


def encoder_options(encoder, extractor) -> dict:
    """The SSLHeadConfig fields that describe ``encoder`` (for model_config)."""
    import json

    return {
        "n_features": encoder.config.hidden_size,
        "n_layers": encoder.config.num_hidden_layers + 1,  # embeddings + each block
        "encoder_config": json.loads(encoder.config.to_json_string()),
        "encoder_mask": bool(getattr(extractor, "return_attention_mask", True)),
        "normalize_waveform": bool(getattr(extractor, "do_normalize", True)),
    }


def freeze_conv_encoder(encoder) -> None:
    """The convolutional feature encoder never trains (too little data moves it usefully,
    and it holds most of the activation memory)."""
    conv = encoder.feature_extractor
    if hasattr(conv, "_freeze_parameters"):  # also stops it asking for input gradients
        conv._freeze_parameters()
    for p in conv.parameters():
        p.requires_grad = False


class SSLFineTune(nn.Module):
    """Encoder + SSLHead on waveforms. x (B, T, 320), mask (B, T) -> logits (B, C)."""

    def __init__(self, cfg: SSLHeadConfig):
        super().__init__()
        from transformers import AutoConfig, AutoModel

        if not cfg.encoder_config:
            raise ModelError(
                "a fine-tuned ssl model needs its encoder's config; train it with `ser train`."
            )
        self.cfg = cfg
        self.encoder = AutoModel.from_config(AutoConfig.for_model(**cfg.encoder_config))
        self.head = SSLHead(replace(cfg, finetune="none"))
        self.trainable_blocks = self._freeze(parse_finetune(cfg.finetune))

    def _freeze(self, top: int | None) -> int:
        """Set requires_grad for the fine-tuning mode; returns how many blocks train."""
        blocks = self.encoder.encoder.layers
        if top is not None and top != ALL_LAYERS and top > len(blocks):
            raise ModelError(
                f"finetune top-{top}: the encoder has only {len(blocks)} transformer blocks."
            )
        for p in self.encoder.parameters():
            p.requires_grad = top == ALL_LAYERS
        if top is not None and top != ALL_LAYERS:
            for block in blocks[len(blocks) - top :]:
                for p in block.parameters():
                    p.requires_grad = True
        freeze_conv_encoder(self.encoder)
        masked = getattr(self.encoder, "masked_spec_embed", None)
        if masked is not None:  # pretraining's mask vector: a step without masks leaves it
            masked.requires_grad = False  # unused, which DistributedDataParallel rejects
        return len(blocks) if top == ALL_LAYERS else (top or 0)

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The encoder weights that train (for their own, lower learning rate)."""
        return [p for p in self.encoder.parameters() if p.requires_grad]

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.head.parameters())

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, frames, width = x.shape
        wave = x.reshape(batch, frames * width).float()
        valid = mask.repeat_interleave(width, dim=1)  # (B, samples)
        lengths = valid.sum(dim=1).clamp(min=1)
        if self.cfg.normalize_waveform:  # as the encoder's feature extractor does, per clip
            mean = (wave * valid).sum(dim=1, keepdim=True) / lengths[:, None]
            var = (((wave - mean) * valid) ** 2).sum(dim=1, keepdim=True) / lengths[:, None]
            wave = (wave - mean) / torch.sqrt(var + NORM_EPS)
        wave = wave * valid
        out = self.encoder(
            wave,
            attention_mask=valid.long() if self.cfg.encoder_mask else None,
            output_hidden_states=True,
        )
        states = torch.stack(out.hidden_states, dim=1)  # (B, layers, T', D)
        out_lengths = self.encoder._get_feat_extract_output_lengths(lengths).clamp(min=1)
        steps = torch.arange(states.shape[2], device=states.device)
        return self.head(states, steps[None, :] < out_lengths[:, None])

    def layer_weights(self) -> torch.Tensor:
        return self.head.layer_weights()
