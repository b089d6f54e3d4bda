"""Transformer encoders over spectrogram frames.

``ultimate``: a full transformer encoder (pre-norm, 6 layers) after a convolutional
subsampler, with attentive statistics pooling.
``simplified``: the reference project's design — 4 layers, 8 heads, 256 dims — with batch
norm on the input projection and residual connections, mean-pooled.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ser_cli.models.layers import (
    AttentivePooling,
    SinusoidalPositions,
    downsample_mask,
    masked_mean,
)


class ConvSubsampler(nn.Module):
    """Two stride-2 1-D convolutions: (batch, time, feats) -> (batch, time // 4, dims)."""

    factor = 4

    def __init__(self, n_features: int, dims: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(n_features, dims, 3, stride=2, padding=1),
            nn.BatchNorm1d(dims),
            nn.GELU(),
            nn.Conv1d(dims, dims, 3, stride=2, padding=1),
            nn.BatchNorm1d(dims),
            nn.GELU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.transpose(1, 2)).transpose(1, 2)


@dataclass(frozen=True)
class UltimateConfig:
    n_features: int = 64
    n_classes: int = 8
    dims: int = 192  # model width
    layers: int = 6
    heads: int = 4
    ff_mult: int = 4  # feed-forward width as a multiple of dims
    dropout: float = 0.2


class UltimateTransformer(nn.Module):
    """Conv subsampler + pre-norm transformer + attentive pooling. (B, T, F), mask -> (B, C)."""

    def __init__(self, cfg: UltimateConfig):
        super().__init__()
        self.cfg = cfg
        self.subsample = ConvSubsampler(cfg.n_features, cfg.dims)
        self.positions = SinusoidalPositions(cfg.dims)
        layer = nn.TransformerEncoderLayer(
            cfg.dims,
            cfg.heads,
            cfg.ff_mult * cfg.dims,
            cfg.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.dims)
        self.pool = AttentivePooling(cfg.dims)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(2 * cfg.dims, cfg.n_classes))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.positions(self.subsample(x))
        m = downsample_mask(mask, ConvSubsampler.factor, h.shape[1])
        h = self.norm(self.encoder(h, src_key_padding_mask=~m))
        return self.head(self.pool(h, m))


@dataclass(frozen=True)
class SimplifiedConfig:
    n_features: int = 64
    n_classes: int = 8
    dims: int = 256
    layers: int = 4
    heads: int = 8
    dropout: float = 0.2


class SimplifiedTransformer(nn.Module):
    """BatchNorm'd projection + 4-layer transformer with residual connections, mean-pooled."""

    def __init__(self, cfg: SimplifiedConfig):
        super().__init__()
        self.cfg = cfg
        self.subsample = ConvSubsampler(cfg.n_features, cfg.dims)
        self.positions = SinusoidalPositions(cfg.dims)
        layer = nn.TransformerEncoderLayer(
            cfg.dims, cfg.heads, 2 * cfg.dims, cfg.dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.head = nn.Sequential(
            nn.BatchNorm1d(cfg.dims), nn.Dropout(cfg.dropout), nn.Linear(cfg.dims, cfg.n_classes)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.positions(self.subsample(x))
        m = downsample_mask(mask, ConvSubsampler.factor, h.shape[1])
        h = h + self.encoder(h, src_key_padding_mask=~m)  # residual around the whole stack
        return self.head(masked_mean(h, m))
