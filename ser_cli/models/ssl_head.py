"""The head that sits on a pretrained speech encoder (wav2vec 2.0, HuBERT, WavLM, ...).

With a frozen encoder the cached hidden states of every layer come in as
(batch, layers, time, dims); a learned softmax-weighted sum mixes the layers, a small
projection and attentive pooling summarise time, and a linear layer classifies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
from torch import nn

from ser_cli.errors import ModelError
from ser_cli.models.layers import AttentivePooling

TOP_N = re.compile(r"^top-(\d+)$")
ALL_LAYERS = -1  # parse_finetune's value for "all"


@dataclass(frozen=True)
class SSLHeadConfig:
    n_features: int = 768  # encoder hidden size
    n_layers: int = 13  # hidden-state layers the encoder returns (embeddings + each block)
    n_classes: int = 8
    dims: int = 256  # projection width
    dropout: float = 0.2
    # Which encoder weights train: "none" (frozen; cached hidden states), "top-N" (the top N
    # transformer blocks) or "all" (everything but the convolutional feature encoder).
    finetune: str = "none"
    # Fine-tuning only, filled in by the trainer: the encoder's transformers config (so a
    # checkpoint rebuilds the encoder without the original), whether it takes an attention
    # mask, and whether its feature extractor normalises each clip to zero mean, unit variance.
    encoder_config: dict = field(default_factory=dict)
    encoder_mask: bool = True
    normalize_waveform: bool = True

    def __post_init__(self) -> None:
        parse_finetune(self.finetune)  # a clear error for a bad value, before any training


def parse_finetune(value: str) -> int | None:
    """'none' -> None, 'all' -> ALL_LAYERS, 'top-N' -> N (at least 1); anything else fails."""
    if value == "none":
        return None
    if value == "all":
        return ALL_LAYERS
    match = TOP_N.match(str(value))
    if match and int(match.group(1)) >= 1:
        return int(match.group(1))
    raise ModelError(
        f"model_options.finetune '{value}' is not valid; use none, all, or top-N (e.g. top-2)."
    )


class SSLHead(nn.Module):
    """Weighted layer sum + projection + attentive pooling. (B, L, T, D), mask (B, T) -> (B, C)."""

    def __init__(self, cfg: SSLHeadConfig):
        super().__init__()
        self.cfg = cfg
        self.layer_logits = nn.Parameter(torch.zeros(cfg.n_layers))
        self.project = nn.Sequential(
            nn.LayerNorm(cfg.n_features),
            nn.Linear(cfg.n_features, cfg.dims),
            nn.GELU(),
            nn.Dropout(cfg.dropout),
        )
        self.pool = AttentivePooling(cfg.dims)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(2 * cfg.dims, cfg.n_classes))

    def layer_weights(self) -> torch.Tensor:
        """The softmax weight of each encoder layer, shape (layers,)."""
        return torch.softmax(self.layer_logits, dim=0)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mixed = torch.einsum("l,bltd->btd", self.layer_weights(), x.float())
        return self.head(self.pool(self.project(mixed), mask))
